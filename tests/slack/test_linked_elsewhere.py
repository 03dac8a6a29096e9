"""An org linked to Slack by the `revenant` CLI (another process) while `serve` runs gets its next incident's
room at once: the serving process's chat cache held "no Slack bound" until its entry expired (5 s), and an
incident opened in that window got no room until its next change. The cache's clock is frozen here, so only
a fresh read can see the link."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from incident_core import usecases as uc
from incident_core.model import Severity
from tests.slack.conftest import SECRET, SlackWorld, eventually


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    return {"chat_cache": {"clock": lambda: 1000.0}}


def test_the_first_incident_after_a_link_made_elsewhere_gets_its_room_at_once(
        slack_world: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    w = slack_world
    beta = w.app.directory.create_org(f"beta-{uuid.uuid4().hex[:6]}")
    w.app.directory.update_org_settings(beta.id, {"slack": {"auto_channel": True}})
    before = uc.declare_incident(deps=w.app.deps, org_id=beta.id, actor="system", title="Before the link",
                                 severity=Severity.SEV2).state
    eventually(lambda: w.app.outbox.pending(beta.id) == 0, timeout=30, what="beta's outbox settled")
    assert w.app.queries.get(beta.id, before.incident_id).rooms == {}  # not linked yet: no room
    for name, value in {"REVENANT_DATABASE_URL": w.app.settings.effective_database_url,
                        "REVENANT_DATA_DIR": str(tmp_path / "cli"), "SLACK_SIGNING_SECRET": SECRET,
                        "SLACK_BOT_TOKEN": w.slack.bot_token, "SLACK_API_URL": w.slack.api_url}.items():
        monkeypatch.setenv(name, value)
    try:
        main(["org", "link-slack", beta.name, w.slack.team_id, "--move"])  # the CLI: an App of its own
    except SystemExit as exit_:
        assert not exit_.code
    assert w.app.directory.bound_org("slack", w.slack.team_id) == beta.id
    after = uc.declare_incident(deps=w.app.deps, org_id=beta.id, actor="system", title="After the link",
                                severity=Severity.SEV2).state
    state = eventually(lambda: (s := w.app.queries.get(beta.id, after.incident_id)) and "slack" in s.rooms and s,
                       timeout=30, what="the new incident's room")
    assert w.slack.channel(state.rooms["slack"].room_id).name.startswith(f"inc-{after.created_at:%Y%m%d}")
    eventually(lambda: w.app.outbox.pending(beta.id) == 0, timeout=30, what="beta's outbox settled")


def test_an_org_bound_to_another_workspace_is_warned_about_once(slack_world: SlackWorld,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """"No adapter" is built again at every call now; the token-mode mismatch behind it is logged once."""
    from bot.slack_chats import slack_chat_for

    w = slack_world
    beta = w.app.directory.create_org(f"beta-{uuid.uuid4().hex[:6]}")
    other = w.slack.create_team("Beta Corp", "beta")
    w.app.directory.bind("slack", other.id, beta.id, move=True)  # as an older version allowed
    chat_for = slack_chat_for(w.app)
    try:
        with caplog.at_level(logging.DEBUG, logger="revenant.slack"):
            assert [chat_for(beta.id) for _ in range(3)] == [None, None, None]
    finally:
        w.app.directory.unbind("slack", other.id)  # emulator team ids repeat: later tests expect it unbound
    said = [r for r in caplog.records if "SLACK_BOT_TOKEN belongs to" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
