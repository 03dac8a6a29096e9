"""The outbound Slack adapter per org is kept per process (bot/chat_cache.py, bot/slack_chats.py): a hit reads
nothing; this process's writes retire it at once, another process's within the TTL; a refused token drops it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from bot.slack_chats import slack_chat_for
from bot.slack_wiring import installation_store
from emulators.slack import SlackEmulator
from incident_core import richtext as rt
from tests.slack.conftest import SECRET

KEY = "q2oUKVo8Q3b4Q4kz8Yc6pQ2bOBMkfu1R3pH9vFv1u2c="
TTL = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Workspace:
    org_id: str
    team_id: str
    token: str


def oauth_app(db_url: str, data: Path, slack: SlackEmulator, clock: Clock) -> App:
    settings = Settings(data_dir=data, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                        slack_client_id=slack.client_id, slack_client_secret=slack.client_secret,
                        slack_api_url=slack.api_url, encryption_key=KEY)
    return bootstrap(settings, migrate=db_url.startswith("sqlite"), chat_cache={"ttl": TTL, "clock": clock})


def install(app: App, slack: SlackEmulator, team_id: str, token: str) -> None:
    """What an OAuth install (or a reinstall's token rotation) stores for a workspace."""
    bot_user = slack.state.bot_users[team_id]
    installation_store(app).sync.save(Installation(
        app_id=slack.app_id, team_id=team_id, bot_token=token, bot_id=slack.state.users[bot_user].bot_id,
        bot_user_id=bot_user, bot_scopes=["channels:manage", "chat:write"], user_id=bot_user,
        installed_at=time.time()))


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[tuple[App, App, SlackEmulator, list[Workspace], Clock]]:
    """Two orgs, each with a workspace and an installed bot; `app` serves them, `other` is another process."""
    clock = Clock()
    with SlackEmulator() as slack:
        app = oauth_app(db_url, tmp_path / "a", slack, clock)
        other = oauth_app(db_url, tmp_path / "a", slack, Clock())
        spaces = []
        for i in range(2):
            token = f"xoxb-cache-{uuid.uuid4().hex[:12]}"
            team = slack.create_team(f"Cache {i}", f"cache{i}-{uuid.uuid4().hex[:6]}", bot_token=token)
            org = app.directory.create_org(f"cache-{uuid.uuid4().hex[:8]}")
            app.directory.bind("slack", team.id, org.id, move=True)  # emulator team ids repeat across tests
            install(app, slack, team.id, token)
            spaces.append(Workspace(org.id, team.id, token))
        try:
            yield app, other, slack, spaces, clock
        finally:
            for space in spaces:  # emulator team ids repeat across tests: leave none bound in the shared database
                app.directory.unbind("slack", space.team_id)
            other.close()
            app.close()


def statements(app: App) -> Callable[[], int]:
    """How many SQL statements `app` has sent since this was called."""
    count = [0]

    def seen(*_args: Any) -> None:
        count[0] += 1

    sa.event.listen(app.engine, "before_cursor_execute", seen)
    return lambda: count[0]


def team_of(chat: Any) -> str:
    return str(chat.client.auth_test()["team_id"])


def test_a_hit_reads_nothing_and_orgs_never_share_an_entry(world: Any) -> None:
    app, _other, _slack, (a, b), _clock = world
    chat_for = slack_chat_for(app)
    first_a, first_b = chat_for(a.org_id), chat_for(b.org_id)
    assert first_a is not None and first_b is not None and first_a is not first_b
    sent = statements(app)
    for _ in range(20):
        assert chat_for(a.org_id) is first_a and chat_for(b.org_id) is first_b
    assert sent() == 0, "a cached adapter read the database"
    assert (team_of(first_a), team_of(first_b)) == (a.team_id, b.team_id)  # each org posts with its own token
    assert first_a.client.token == a.token and first_b.client.token == b.token
    assert chat_for(uuid.uuid4().hex) is None  # an org without Slack


def test_a_write_in_this_process_is_followed_at_once(world: Any) -> None:
    app, _other, slack, (a, b), _clock = world
    chat_for = slack_chat_for(app)
    assert chat_for(a.org_id).client.token == a.token  # type: ignore[union-attr]
    rotated = f"xoxb-rot-{uuid.uuid4().hex[:12]}"
    install(app, slack, a.team_id, rotated)  # a reinstall served by this process
    assert chat_for(a.org_id).client.token == rotated  # type: ignore[union-attr]
    app.directory.unbind("slack", b.team_id)
    assert chat_for(b.org_id) is None  # unlinked here: no Slack for it at once
    app.directory.bind("slack", b.team_id, b.org_id)
    assert chat_for(b.org_id).client.token == b.token  # type: ignore[union-attr]


def test_another_process_change_is_seen_within_the_ttl(world: Any) -> None:
    app, other, slack, (a, b), clock = world
    chat_for = slack_chat_for(app)
    assert chat_for(a.org_id).client.token == a.token  # type: ignore[union-attr]
    assert chat_for(b.org_id) is not None
    rotated = f"xoxb-rot-{uuid.uuid4().hex[:12]}"
    install(other, slack, a.team_id, rotated)  # another process stores a new token …
    other.directory.unbind("slack", b.team_id)  # … and unlinks the other workspace
    clock.now += TTL - 0.5
    assert chat_for(a.org_id).client.token == a.token  # type: ignore[union-attr]  # still within the TTL
    clock.now += 1.0
    assert chat_for(a.org_id).client.token == rotated  # type: ignore[union-attr]
    assert chat_for(b.org_id) is None
    other.directory.bind("slack", b.team_id, b.org_id)


def test_a_refused_token_drops_the_entry_at_once(world: Any) -> None:
    app, other, slack, (a, b), _clock = world
    chat_for = slack_chat_for(app)
    chat = chat_for(a.org_id)
    kept = chat_for(b.org_id)
    assert chat is not None and team_of(chat) == a.team_id
    slack.revoke_token(a.token)  # the workspace revoked the token (the app was uninstalled)
    with pytest.raises(SlackApiError) as refused:
        chat.post("C0", rt.doc(rt.para("hello")))
    assert refused.value.response["error"] == "token_revoked"
    rotated = f"xoxb-new-{uuid.uuid4().hex[:12]}"
    install(other, slack, a.team_id, rotated)  # reinstalled through another process
    sent = statements(app)
    again = chat_for(a.org_id)
    assert sent() > 0 and again is not chat  # read again at once, not after the TTL
    assert again is not None and again.client.token == rotated
    assert chat_for(b.org_id) is kept  # only the refused org's entry was dropped


def test_teams_binding_is_read_once_and_followed_on_unlink(db_url: str, tmp_path: Path) -> None:
    from bot.teams_platform import teams_platform

    clock = Clock()
    settings = Settings(data_dir=tmp_path, database_url=db_url, teams_allow_unauthenticated=True)  # type: ignore[call-arg]
    app = bootstrap(settings, migrate=db_url.startswith("sqlite"), chat_cache={"ttl": TTL, "clock": clock})
    try:
        plugin = teams_platform(app)
        assert plugin is not None
        tenant = f"tenant-{uuid.uuid4().hex[:8]}"
        org = app.directory.create_org(f"teams-{uuid.uuid4().hex[:8]}")
        app.directory.bind("teams", tenant, org.id)
        chat = plugin.chat_for(org.id)
        assert chat is not None and chat.org_id == org.id  # type: ignore[attr-defined]
        sent = statements(app)
        assert plugin.chat_for(org.id) is chat and sent() == 0
        app.directory.unbind("teams", tenant)
        assert plugin.chat_for(org.id) is None
    finally:
        app.close()
