"""An org linked to Slack by another process is served at once (bot/chat_cache.py keeps no "no Slack bound"
answer), while a bound org's adapter still reads nothing per message. Two apps on one database are two
processes: neither sees the other's in-process change counter. The clock is frozen: no entry ever expires."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store import Installation

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from bot.slack_chats import slack_chat_for
from bot.slack_wiring import installation_store
from emulators.slack import SlackEmulator
from tests.bot.test_chat_cache import statements
from tests.slack.conftest import SECRET

KEY = "q2oUKVo8Q3b4Q4kz8Yc6pQ2bOBMkfu1R3pH9vFv1u2c="


def oauth_app(db_url: str, data: Path, slack: SlackEmulator) -> App:
    settings = Settings(data_dir=data, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                        slack_client_id=slack.client_id, slack_client_secret=slack.client_secret,
                        slack_api_url=slack.api_url, encryption_key=KEY)
    return bootstrap(settings, migrate=db_url.startswith("sqlite"), chat_cache={"clock": lambda: 1000.0})


def link(app: App, slack: SlackEmulator, org_id: str, team_id: str, token: str) -> None:
    """What `revenant org link-slack` and an OAuth install store, done by `app`."""
    bot_user = slack.state.bot_users[team_id]
    installation_store(app).sync.save(Installation(
        app_id=slack.app_id, team_id=team_id, bot_token=token, bot_id=slack.state.users[bot_user].bot_id,
        bot_user_id=bot_user, bot_scopes=["channels:manage", "chat:write"], user_id=bot_user,
        installed_at=time.time()))
    app.directory.bind("slack", team_id, org_id, move=True)  # emulator team ids repeat across tests


@pytest.fixture
def apps(db_url: str, tmp_path: Path) -> Iterator[tuple[App, App, SlackEmulator]]:
    with SlackEmulator() as slack:
        serving = oauth_app(db_url, tmp_path, slack)
        cli = oauth_app(db_url, tmp_path, slack)
        try:
            yield serving, cli, slack
        finally:
            for team in list(slack.state.teams):  # emulator team ids repeat: leave none bound for later tests
                serving.directory.unbind("slack", team)
            cli.close()
            serving.close()


def test_an_org_linked_by_another_process_is_served_at_once(apps: tuple[App, App, SlackEmulator]) -> None:
    serving, cli, slack = apps
    chat_for = slack_chat_for(serving)
    org = serving.directory.create_org(f"late-{uuid.uuid4().hex[:8]}")
    assert chat_for(org.id) is None  # not linked yet: no rooms
    token = f"xoxb-late-{uuid.uuid4().hex[:12]}"
    team = slack.create_team("Late Corp", f"late-{uuid.uuid4().hex[:6]}", bot_token=token)
    link(cli, slack, org.id, team.id, token)  # another process links it (the clock does not move)
    chat = chat_for(org.id)
    assert chat is not None and chat.client.token == token
    assert chat.client.auth_test()["team_id"] == team.id


def test_a_bound_org_reads_nothing_and_an_unbound_one_reads_its_bindings(
        apps: tuple[App, App, SlackEmulator]) -> None:
    serving, cli, slack = apps
    chat_for = slack_chat_for(serving)
    bound = serving.directory.create_org(f"bound-{uuid.uuid4().hex[:8]}")
    token = f"xoxb-bound-{uuid.uuid4().hex[:12]}"
    link(serving, slack, bound.id, slack.create_team("Bound", f"b-{uuid.uuid4().hex[:6]}", bot_token=token).id,
         token)
    unbound = serving.directory.create_org(f"unbound-{uuid.uuid4().hex[:8]}")
    kept = chat_for(bound.id)
    assert kept is not None
    sent = statements(serving)
    for _ in range(20):
        assert chat_for(bound.id) is kept
    assert sent() == 0, "a bound org's adapter read the database"
    assert serving.directory.bindings(unbound.id, "slack") == []
    one_read = sent()  # the statements of one read of an org's bindings (SQLite adds its BEGIN)
    assert one_read > 0
    for _ in range(20):
        assert chat_for(unbound.id) is None
    assert sent() == 21 * one_read, "an org without Slack: one read of its bindings per call, nothing else"
