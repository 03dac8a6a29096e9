"""`revenant org config` stores publishing targets (per org and project), reminders and draft targets;
`revenant postmortem draft|show` work from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.org_config import apply_org_config
from incident_core.errors import ValidationError
from incident_core.publishing import targets_for
from tests.bot.test_cli import run
from tests.conftest import make_app
from tests.postmortem.conftest import PublishWorld, resolved

CONFIG = {
    "publishing": {
        "github": {"repo": "acme/postmortems", "base": "main", "labels": ["postmortem"]},
        "jira": {"project": "OPS"},
        "slack": {"channel": "#postmortems"},
        "mcp": {"atlassian": {"transport": "http", "url": "https://mcp.atlassian.com/v1/mcp",
                              "headers": {"Authorization": "Bearer $ATLASSIAN_TOKEN"},
                              "calls": [{"tool": "createJiraIssue", "for_each": "action_item",
                                         "arguments": {"projectKey": "OPS", "summary": "{item_title}"}}]}},
        "projects": {"payments": {"github": {"repo": "acme/payments-postmortems"}, "slack": None}},
    },
    "reminders": {"status_update_minutes": {"SEV1": 15}, "postmortem_due_business_days": 3},
    "postmortem": {"mitigate_minutes": {"SEV1": 20}},
}


def test_publishing_reminders_and_project_overrides_are_validated_and_stored(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, no_scheduler=True)
    try:
        org = app.directory.create_org("cfg")
        path = tmp_path / "org.json"
        path.write_text(json.dumps(CONFIG))
        with pytest.raises(ValidationError, match="unknown projects: payments"):
            apply_org_config(app, org.id, path)
        app.directory.create_project(org.id, "payments")
        summary = apply_org_config(app, org.id, path)
        assert summary == ("publishing to github, jira, slack, mcp:atlassian, knowledge; reminders settings stored; "
                           "postmortem settings stored")
        settings = app.directory.require_org(org.id).settings
        assert settings["reminders"]["status_update_minutes"] == {"SEV1": 15}
        org_targets = targets_for(settings)
        assert org_targets["github"]["repo"] == "acme/postmortems"
        payments = targets_for(settings, None, "payments")
        assert payments["github"]["repo"] == "acme/payments-postmortems" and "slack" not in payments
        assert "Bearer $ATLASSIAN_TOKEN" in json.dumps(settings)  # a reference, never the secret
        bad = tmp_path / "bad.yaml"
        bad.write_text("publishing:\n  jira: {project: ops lower}\n")
        with pytest.raises(ValidationError, match="Jira project key"):
            apply_org_config(app, org.id, bad)
        bad.write_text("reminders: [1, 2]\n")
        with pytest.raises(ValidationError, match="reminders"):
            apply_org_config(app, org.id, bad)
    finally:
        app.close()


def test_chat_sections_are_stored_and_checked_never_dropped(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'r.db'}", tmp_path, no_scheduler=True)
    try:
        org = app.directory.create_org("chat-cfg")
        path = tmp_path / "org.yaml"
        path.write_text("slack: {announce_channel: C0ANNOUNCE, auto_channel: true}\n"
                        "rooms: {archive_after_hours: 48}\n"
                        "teams: {incident_channel: '19:abc@thread.tacv2', auto_channel: false}\n")
        assert apply_org_config(app, org.id, path) == "slack, rooms, teams settings stored"
        settings = app.directory.require_org(org.id).settings
        assert settings["slack"] == {"announce_channel": "C0ANNOUNCE", "auto_channel": True}
        assert settings["rooms"] == {"archive_after_hours": 48}
        assert settings["teams"]["incident_channel"] == "19:abc@thread.tacv2"
        for bad, problem in (("slack: {announce: C1}\n", "unknown setting"),
                             ("slack: {auto_channel: 'yes'}\n", "true or false"),
                             ("rooms: {archive_after_hours: -1}\n", "hours"),
                             ("teams: [1]\n", "mapping")):
            path.write_text(bad)
            with pytest.raises(ValidationError, match=problem):
                apply_org_config(app, org.id, path)
        assert app.directory.require_org(org.id).settings["rooms"] == {"archive_after_hours": 48}
    finally:
        app.close()


def test_cli_drafts_and_writes_the_markdown(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'revenant.db'}", tmp_path, no_scheduler=True)
    try:
        org = app.directory.create_org("cli-pm")
        world = PublishWorld(app=app, org_id=org.id, gh=None, jira=None, knowledge=None)  # type: ignore[arg-type]
        resolved(world)
    finally:
        app.close()
    drafted = run(["postmortem", "draft", "--org", "cli-pm", "INC-1"], tmp_path)
    assert drafted.returncode == 0, drafted.stderr
    assert "*Postmortem for INC-1* — draft (deterministic)" in drafted.stdout
    out = tmp_path / "pm.md"
    shown = run(["postmortem", "show", "--org", "cli-pm", "INC-1", "--out", str(out)], tmp_path)
    assert shown.returncode == 0 and out.read_text().startswith("# Postmortem: INC-1")
    missing = run(["postmortem", "show", "--org", "cli-pm", "INC-9"], tmp_path)
    assert missing.returncode == 1 and "no incident 'INC-9'" in missing.stderr
