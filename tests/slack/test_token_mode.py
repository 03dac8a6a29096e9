"""Token mode serves exactly the workspace its bot token belongs to (auth.test), with a second org around."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from bot.cli import main
from tests.slack.conftest import SECRET, SlackWorld, eventually


def cli(monkeypatch: pytest.MonkeyPatch, w: SlackWorld, tmp_path: Path, *args: str) -> int:
    for name, value in {"REVENANT_DATABASE_URL": w.app.settings.effective_database_url,
                        "REVENANT_DATA_DIR": str(tmp_path / "cli"), "SLACK_SIGNING_SECRET": SECRET,
                        "SLACK_BOT_TOKEN": w.slack.bot_token, "SLACK_API_URL": w.slack.api_url}.items():
        monkeypatch.setenv(name, value)
    try:
        main(list(args))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_linking_another_workspace_in_token_mode_is_refused_with_the_reason(
        slack_world: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    w = slack_world
    beta = w.app.directory.create_org(f"beta-{uuid.uuid4().hex[:6]}")
    other = w.slack.create_team("Beta Corp", "beta")
    assert cli(monkeypatch, w, tmp_path, "org", "link-slack", beta.name, other.id) == 1
    said = capsys.readouterr().err
    assert "not linked" in said and w.slack.team_id in said and "OAuth" in said
    assert w.app.directory.bound_org("slack", other.id) is None
    assert cli(monkeypatch, w, tmp_path, "org", "link-slack", beta.name, w.slack.team_id) == 1  # already alpha's
    said = capsys.readouterr().err
    assert "already linked" in said and "--move" in said
    assert w.app.directory.bound_org("slack", w.slack.team_id) == w.org_id


def test_an_org_bound_to_another_workspace_gets_no_room_and_nothing_retries_forever(slack_world: SlackWorld) -> None:
    w = slack_world
    beta = w.app.directory.create_org(f"beta-{uuid.uuid4().hex[:6]}")
    other = w.slack.create_team("Beta Corp", "beta")
    w.app.directory.bind("slack", other.id, beta.id, move=True)  # as an older version allowed (emulator ids repeat)
    w.app.directory.update_org_settings(beta.id, {"slack": {"auto_channel": True}})
    from incident_core import usecases as uc
    from incident_core.model import Severity

    uc.declare_incident(deps=w.app.deps, org_id=beta.id, actor="slack:U0BETA", title="BETA8 confidential merger outage",
                        severity=Severity.SEV1)
    eventually(lambda: w.app.outbox.pending(beta.id) == 0, timeout=30, what="beta's outbox settled")
    names = [c.name for c in w.slack.state.channels.values()]
    assert not any("beta8" in n or "merger" in n for n in names), names  # in no workspace at all
    assert w.app.queries.get(beta.id, "INC-1").rooms == {}


def test_commands_are_served_while_auth_test_fails(slack_world: SlackWorld) -> None:
    w = slack_world
    w.slack.inject("auth.test", status=429, retry_after=30, times=50)
    delivery, url = w.sender.command(w.alice, w.general, "declare Checkout latency spike sev2")
    assert delivery.status == 200
    answer = eventually(lambda: w.slack.responses(url), what="the command answered")
    assert "no longer available" not in json.dumps(answer)
    assert w.incident() is not None and w.incident().title == "Checkout latency spike"
