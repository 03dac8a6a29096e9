"""incident_core package."""
