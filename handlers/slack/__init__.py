"""Slack adapter: Bolt listeners, Block Kit rendering and the outbound chat port."""
