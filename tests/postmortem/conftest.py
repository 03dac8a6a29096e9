"""An app wired to local GitHub and Jira emulators, and helpers that drive the outbox without waiting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from bot.worker import deliver_once
from emulators.github import GitHubEmulator
from emulators.jira import JiraEmulator
from incident_core import usecases as uc
from incident_core.model import IncidentRole, OrgRole, Severity, Status
from incident_core.state import IncidentState
from storage.engine import scope_to_org
from storage.outbox_admin import SqlOutboxAdmin
from storage.unit_of_work import OUTBOX

ALICE, BOB, VIC = "u:alice", "u:bob", "u:vic"  # org commander, responder, viewer
PUBLISHING = {"github": {"repo": "acme/postmortems", "base": "main"}, "jira": {"project": "OPS"}}


@dataclass
class RecordingKnowledge:
    """Stands in for the Chroma knowledge base where a test does not search it."""

    documents: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def index_document(self, org_id: str, doc_id: str, title: str, markdown: str, kind: str = "postmortem",
                       project: str | None = None, service: str | None = None) -> int:
        self.documents[(org_id, doc_id)] = {"title": title, "markdown": markdown, "kind": kind, "service": service}
        return markdown.count("\n## ")


@dataclass
class PublishWorld:
    app: App
    org_id: str
    gh: GitHubEmulator
    jira: JiraEmulator
    knowledge: RecordingKnowledge

    @property
    def deps(self) -> uc.Deps:
        return self.app.deps

    def state(self, ref: str = "INC-1") -> IncidentState:
        found = self.app.queries.get(self.org_id, ref)
        assert found is not None
        return found

    def types(self, ref: str = "INC-1") -> list[str]:
        return [e.type_name for e in self.app.queries.timeline(self.org_id, self.state(ref).incident_id)]


def make_due(app: App, org_id: str) -> None:
    """Skip the outbox backoff: every pending message, and each subscriber's retry, becomes due now."""
    SqlOutboxAdmin(app.engine).expedite(org_id)


def deliver_all(world: PublishWorld, rounds: int = 12) -> int:
    """Deliver until the org's outbox is empty (retries included); returns how many passes it took."""
    for n in range(1, rounds + 1):
        make_due(world.app, world.org_id)
        deliver_once(world.app)
        if world.app.outbox.pending(world.org_id) == 0:
            return n
    raise AssertionError(f"outbox still has {world.app.outbox.pending(world.org_id)} pending after {rounds} passes")


def outbox_rows(app: App, org_id: str, prefix: str = "") -> list[Any]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return conn.execute(sa.select(OUTBOX).where(OUTBOX.c.org_id == org_id, OUTBOX.c.key.startswith(prefix))
                            .order_by(OUTBOX.c.id)).all()


def resolved(world: PublishWorld, *, title: str = "Checkout latency spike") -> IncidentState:
    """A SEV2 incident worked and resolved by Alice (commander) and Bob (responder)."""
    deps, org = world.deps, world.org_id
    s = uc.declare_incident(deps=deps, org_id=org, actor=ALICE, title=title, severity=Severity.SEV2,
                            commander=ALICE).state
    base = {"deps": deps, "org_id": org, "incident_id": s.incident_id}
    uc.assign_role(**base, actor=ALICE, role=IncidentRole.SCRIBE, assignee=BOB)
    uc.add_note(**base, actor=BOB, text="checkout pods exhaust the payments-db pool after the deploy")
    uc.add_note(**base, actor=BOB, text="follow-up: alert on connection pool saturation")
    uc.change_status(**base, actor=ALICE, status=Status.IDENTIFIED, note="pool exhaustion after the deploy")
    uc.change_status(**base, actor=BOB, status=Status.MITIGATED, note="rolled back checkout")
    return uc.change_status(**base, actor=ALICE, status=Status.RESOLVED, note="errors back to normal").state


@pytest.fixture
def publish_world(db_url: str, tmp_path: Path) -> Iterator[PublishWorld]:
    with GitHubEmulator(tokens={"ghp-test-token"}) as gh, JiraEmulator(users={"u": "jira-pass"}) as jira:
        gh.create_repo("acme", "postmortems", files={"README.md": "# Postmortems\n"})
        jira.create_project("OPS", "Operations")
        settings = Settings(data_dir=tmp_path, database_url=db_url,  # type: ignore[call-arg]
                            github_token="ghp-test-token", github_api_url=gh.base_url, jira_url=jira.base_url,
                            jira_user="u", jira_token="jira-pass")
        knowledge = RecordingKnowledge()
        app = bootstrap(settings, migrate=db_url.startswith("sqlite"), knowledge=knowledge, github_write_pause=0,
                        no_scheduler=True)
        org = app.directory.create_org(f"pm-{uuid.uuid4().hex[:8]}")
        for user, role in ((ALICE, OrgRole.COMMANDER), (BOB, OrgRole.RESPONDER), (VIC, OrgRole.VIEWER)):
            app.directory.set_role(org.id, user, role)
        app.directory.update_org_settings(org.id, {"publishing": PUBLISHING})
        try:
            yield PublishWorld(app=app, org_id=org.id, gh=gh, jira=jira, knowledge=knowledge)
        finally:
            app.close()


@dataclass
class SlackPostmortemWorld:
    """The Slack world of tests/slack plus GitHub and Jira emulators and a #postmortems channel."""

    slack_world: Any
    gh: GitHubEmulator
    jira: JiraEmulator
    postmortems_channel: str


@pytest.fixture
def slack_pm_world(db_url: str, tmp_path: Path) -> Iterator[SlackPostmortemWorld]:
    from bot.local_server import BackgroundServer
    from emulators.slack import SlackEmulator
    from emulators.slack_events import SlackSender
    from tests.slack.conftest import SECRET, SlackWorld

    with SlackEmulator() as slack, GitHubEmulator(tokens={"ghp-test-token"}) as gh, \
            JiraEmulator(users={"u": "jira-pass"}) as jira:
        gh.create_repo("acme", "postmortems")
        jira.create_project("OPS", "Operations")
        pm_channel = slack.create_channel("postmortems")
        settings = Settings(data_dir=tmp_path, database_url=db_url, slack_signing_secret=SECRET,  # type: ignore[call-arg]
                            slack_bot_token=slack.bot_token, slack_api_url=slack.api_url, github_token="ghp-test-token",
                            github_api_url=gh.base_url, jira_url=jira.base_url, jira_user="u", jira_token="jira-pass")
        app = bootstrap(settings, migrate=db_url.startswith("sqlite"), knowledge=RecordingKnowledge(),
                        github_write_pause=0, no_scheduler=True)
        org = app.directory.create_org(f"slack-pm-{uuid.uuid4().hex[:8]}")
        app.directory.bind("slack", slack.team_id, org.id, move=True)
        app.directory.update_org_settings(org.id, {"publishing": {**PUBLISHING, "slack": {"channel": "postmortems"}}})
        alice, bob, carol = (slack.create_user(n).id for n in ("alice", "bob", "carol"))
        app.directory.set_role(org.id, f"slack:{alice}", OrgRole.COMMANDER)
        app.directory.set_role(org.id, f"slack:{carol}", OrgRole.VIEWER)
        general = slack.channel_by_name("general")
        assert general is not None
        try:
            with BackgroundServer(app) as server:
                sender = SlackSender(app_url=server.url, signing_secret=SECRET, slack=slack)
                world = SlackWorld(app=app, slack=slack, sender=sender, org_id=org.id, alice=alice, bob=bob,
                                   carol=carol, general=general.id)
                yield SlackPostmortemWorld(slack_world=world, gh=gh, jira=jira, postmortems_channel=pm_channel.id)
        finally:
            app.close()


@pytest.fixture
def clocked(db_url: str, tmp_path: Path) -> Iterator[tuple[App, Any]]:
    """(app, clock) on either store, the clock moved by the test (no scheduler: the test ticks)."""
    from tests.conftest import make_app
    from tests.postmortem.test_reminders import Clock

    clock = Clock()
    built = make_app(db_url, tmp_path, clock=clock, no_scheduler=True)
    yield built, clock
    built.close()
