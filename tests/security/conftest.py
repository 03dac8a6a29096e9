"""The Slack and Teams worlds of tests/slack and tests/teams, for the hostile-input tests here."""

from tests.postmortem.conftest import publish_world  # noqa: F401, E402 — fixture
from tests.slack.conftest import slack, slack_world  # noqa: F401 — fixtures
from tests.teams.conftest import connector, teams_world  # noqa: F401 — fixtures
