"""One module per kind of Slack listener, each with register(app, services)."""
