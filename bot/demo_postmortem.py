"""The demo's postmortem act: draft on resolution, edit, submit, approve, publish to local GitHub and Jira."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bot.bootstrap import App
from bot.demo_slack import NAMES, say, wait_for
from emulators.github import GitHubEmulator
from emulators.jira import JiraEmulator
from incident_core import commands as cmd
from incident_core import postmortem_usecases as pmu
from incident_core import usecases as uc
from incident_core.errors import IncidentError
from incident_core.model import Status
from incident_core.postmortem_render import document_of
from incident_core.richtext_plain import Voice, to_plain
from incident_core.state import IncidentState
from publishers.markdown import to_markdown

GITHUB_TOKEN, JIRA_USER, JIRA_TOKEN = "ghp_demo_token", "revenant@acme.example", "jira-demo-token"
STORY_START = datetime(2026, 1, 15, 9, 54, tzinfo=UTC)  # two minutes after the shipped alerts started


@dataclass
class DemoClock:
    """Scripted time: the story starts when the shipped alerts fired and moves on when the script says so."""

    at: datetime = STORY_START

    def now(self) -> datetime:
        return self.at

    def advance(self, minutes: float) -> None:
        self.at += timedelta(minutes=minutes)


@dataclass
class PostmortemDemo:
    """Local GitHub and Jira emulators and the steps the demo script calls."""

    root: Path
    gh: GitHubEmulator = field(default_factory=lambda: GitHubEmulator(tokens={GITHUB_TOKEN}))
    jira: JiraEmulator = field(default_factory=lambda: JiraEmulator(users={JIRA_USER: JIRA_TOKEN}))
    clock: DemoClock = field(default_factory=DemoClock)

    def settings(self) -> dict[str, Any]:
        """The environment a real deployment would set, pointed at the emulators."""
        return {"github_token": GITHUB_TOKEN, "github_api_url": self.gh.base_url, "jira_url": self.jira.base_url,
                "jira_user": JIRA_USER, "jira_token": JIRA_TOKEN}

    def configure(self, app: App, org_id: str) -> None:
        """What `revenant org config` would store for acme-demo."""
        org = app.directory.require_org(org_id)
        app.directory.update_org_settings(org_id, {**org.settings, "publishing": {
            "github": {"repo": "acme/postmortems", "base": "main"}, "jira": {"project": "OPS"}}})

    def key_moment(self, app: App, org_id: str, incident_id: str, who: str, text: str, pinner: str) -> None:
        """A chat message and its 📌, as Slack capture would record them."""
        now = app.deps.clock.now()
        base: dict[str, Any] = {"org_id": org_id, "incident_id": incident_id, "occurred_at": now}
        uc.apply_command(deps=app.deps, check_role=False, command=cmd.CaptureMessage(
            **base, actor=who, platform="slack", channel="C-DEMO", message_id="1768470900.000100", author=who,
            text=text))
        uc.apply_command(deps=app.deps, check_role=False, command=cmd.CaptureReaction(
            **base, actor=pinner, platform="slack", message_id="1768470900.000100", emoji="pushpin", user=pinner))

    def act(self, app: App, org_id: str, incident_id: str, *, editor: str, approver: str) -> Path:
        """Wait for the automatic draft, edit, submit, try and refuse, approve, publish; write the Markdown."""
        state = _wait(app, org_id, incident_id, lambda s: bool(s.postmortem.sections), "the draft")
        view = pmu.view_of(state)
        click.echo(f"\npostmortem ({state.human_id} resolved → drafted from the timeline by the worker):")
        _say("revenant", f"drafted: {len(view.sections)} sections, every fact cited [ev N]; "
                         f"{len(view.action_items)} action item(s); {len(view.findings)} blameless warning(s)")
        for line in view.sections.get("summary", "").splitlines()[:3]:
            _say("", "> " + line)
        for f in view.findings[:2]:
            _say("revenant", f"⚠ {f.section}: “{f.phrase}” — {f.suggestion}")
        base: dict[str, Any] = {"deps": app.deps, "org_id": org_id, "incident_id": incident_id}
        self.clock.advance(21 * 60)  # the next morning
        events = app.queries.timeline(org_id, incident_id)
        region = next((e.version for e in events if e.type_name == "SeverityChanged"), 1)
        lucky = f"- The errors stayed in one region, so most customers never saw them [ev {region}]"
        pmu.save_edits(**base, actor=editor, sections={"lucky": lucky})
        _say(editor.split(":")[1], "edits “Where we got lucky” in the postmortem modal → Save draft")
        pmu.submit_postmortem(**base, queries=app.queries, actor=editor)
        _say(editor.split(":")[1], "Submit for approval")
        try:
            pmu.approve_postmortem(**base, queries=app.queries, actor=editor)
        except IncidentError as exc:
            names = {f"slack:{user}": f"@{name}" for user, name in NAMES.items()}
            _say(editor.split(":")[1], f"Approve → refused: {to_plain(exc.content, Voice(names=names)).split(';')[0]}")
        self.clock.advance(40)
        pmu.approve_postmortem(**base, queries=app.queries, actor=approver)
        _say(approver.split(":")[1], "Approve and publish")
        final = _wait(app, org_id, incident_id, lambda s: s.status is Status.CLOSED, "publication", timeout=25)
        for target, url in final.postmortem.published.items():
            _say("revenant", f"published to {target}: {url}")
        keys = [i["key"] for i in self.jira.issues("OPS")]
        _say("revenant", f"Jira: {', '.join(keys)} (postmortem + action items, linked); {final.human_id} is "
                         f"{final.status.value}")
        out = self.root / f"postmortem-{final.human_id}.md"
        out.write_text(to_markdown(document_of(final, app.directory.display_names(org_id)).content),
                       encoding="utf-8")
        click.echo(f"\npostmortem Markdown written to {out}")
        return out


def _say(who: str, text: str) -> None:
    say(NAMES.get(who, who), text)


def _wait(app: App, org_id: str, incident_id: str, done: object, what: str, timeout: float = 15) -> IncidentState:
    """Poll the projection while the server's outbox loop works (the demo runs the real pipeline)."""
    def check() -> IncidentState | None:
        state = app.queries.get(org_id, incident_id)
        return state if state is not None and done(state) else None  # type: ignore[operator]

    return wait_for(check, what, timeout)


@contextmanager
def postmortem_demo(root: Path) -> Iterator[PostmortemDemo]:
    """Start the GitHub and Jira emulators with the demo's repository and project."""
    demo = PostmortemDemo(root=root)
    with demo.gh, demo.jira:
        demo.gh.create_repo("acme", "postmortems", files={"README.md": "# Postmortems\n"})
        demo.jira.create_project("OPS", "Operations")
        yield demo
