"""The Slack and Teams worlds, shared with the insight tests."""

from tests.slack.conftest import slack, slack_overrides, slack_world  # noqa: F401
