"""Reminders: the pure policy, ticks against the real store, and "fires once" with two schedulers on PostgreSQL."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.reminders import ReminderScheduler, tick
from handlers.slack.mrkdwn import mrkdwn
from handlers.teams.markdown import TeamsText
from incident_core import commands as cmd
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core.model import IncidentRole, Severity, Status
from incident_core.postmortem_usecases import notice_content
from incident_core.reminders import SNOOZE_KIND, SNOOZE_NAME, ReminderPolicy, due_reminders
from tests.conftest import make_app
from tests.postmortem.conftest import outbox_rows
from tests.postmortem.scenario import Memory

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday


@dataclass
class Clock:
    at: datetime = T0

    def now(self) -> datetime:
        return self.at


def sev1_open() -> Memory:
    m = Memory()
    m.minutes = -1
    m.run(cmd.DeclareIncident, number=1, title="Checkout down", severity=Severity.SEV1)
    return m


def kinds(m: Memory, now: datetime, policy: ReminderPolicy | None = None) -> list[tuple[str, datetime]]:
    assert m.state is not None
    return [(r.kind, r.slot) for r in due_reminders(m.state, m.events, now, policy or ReminderPolicy())]


def test_status_update_reminders_follow_severity_and_snooze() -> None:
    m = sev1_open()
    t = m.state.created_at if m.state else T0
    assert kinds(m, t + timedelta(minutes=29)) == []
    assert kinds(m, t + timedelta(minutes=31)) == [("status_update", t + timedelta(minutes=30))]
    assert kinds(m, t + timedelta(minutes=95)) == [("status_update", t + timedelta(minutes=90))]  # coalesced
    m.minutes = 40
    m.run(cmd.AddNote, text="still looking", after=0)
    assert kinds(m, m.now() + timedelta(minutes=29)) == []
    m.run(cmd.CaptureInteraction, platform="slack", kind=SNOOZE_KIND, name=SNOOZE_NAME, text="status_update:45",
          after=31)
    assert kinds(m, m.now() + timedelta(minutes=40)) == []
    assert kinds(m, m.now() + timedelta(minutes=46))[0][0] == "status_update"
    m.run(cmd.ChangeSeverity, severity=Severity.SEV4)
    assert kinds(m, m.now() + timedelta(hours=10)) == []  # SEV4: no status reminders by default
    custom = ReminderPolicy.from_settings({"status_update_minutes": {"sev4": 120}})
    assert kinds(m, m.now() + timedelta(minutes=121), custom)[0][0] == "status_update"


def test_postmortem_due_counts_business_days_and_stale_drafts_get_nudged() -> None:
    m = sev1_open()
    m.run(cmd.ChangeStatus, status=Status.MITIGATED)
    m.run(cmd.ChangeStatus, status=Status.RESOLVED)
    assert m.state is not None
    resolved = datetime.fromisoformat(m.state.status_times["resolved"])
    assert kinds(m, resolved + timedelta(days=6)) == []  # Fri + 6 calendar days = 4 business days
    due = kinds(m, resolved + timedelta(days=7, hours=1))
    assert [k for k, _ in due] == ["postmortem_due"]
    from incident_core import postmortem as pm

    m.run(pm.DraftPostmortem, title="t", sections={"summary": "s [ev 1]"}, markdown="#", after=0)
    assert [k for k, _ in kinds(m, m.now() + timedelta(days=2))] == []
    stale = kinds(m, m.now() + timedelta(days=3, minutes=1))
    assert ("stale_draft", m.now() + timedelta(days=3)) in stale


def test_ticks_fire_each_slot_once_and_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    app = make_app(db_url, tmp_path, clock=clock, no_scheduler=True)
    try:
        org = app.directory.create_org(f"rem-{T0.timestamp():.0f}-{time.monotonic_ns()}")
        uc.declare_incident(deps=app.deps, org_id=org.id, actor="u:a", title="API down", severity=Severity.SEV1,
                            check_role=False)
        clock.at = T0 + timedelta(minutes=31)
        assert tick(app) >= 1 and tick(app) == 0
    finally:
        app.close()
    restarted = make_app(db_url, tmp_path, clock=clock, no_scheduler=True)
    try:
        assert tick(restarted) == 0  # nothing in memory: the slot's outbox key is already taken
        clock.at = T0 + timedelta(minutes=61)
        assert tick(restarted) >= 1
        rows = outbox_rows(restarted, org.id, "reminder:status_update:")
        assert len(rows) == 2 and "has had no status update for 1h 01m" in notice_content(rows[-1].payload).plain()
        assert rows[-1].payload["snooze"] == "status_update"
    finally:
        restarted.close()


@pytest.mark.postgres
def test_two_schedulers_on_postgresql_fire_once(postgres_url: str, tmp_path: Path) -> None:
    clock = Clock()
    apps = [make_app(postgres_url, tmp_path / str(i), clock=clock, no_scheduler=True, reminder_interval=0.05)
            for i in range(2)]
    try:
        org = apps[0].directory.create_org(f"two-{time.monotonic_ns()}")
        uc.declare_incident(deps=apps[0].deps, org_id=org.id, actor="u:a", title="DB down",
                            severity=Severity.SEV1, check_role=False)
        clock.at = T0 + timedelta(minutes=31)
        schedulers = [ReminderScheduler(a).start() for a in apps]
        deadline = time.monotonic() + 60  # a busy machine may need many intervals before the first tick runs
        while not outbox_rows(apps[0], org.id, "reminder:status_update:") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # both schedulers keep ticking: a second reminder would show up now
        for s in schedulers:
            s.stop()
        assert len(outbox_rows(apps[0], org.id, "reminder:status_update:")) == 1
        clock.at = T0 + timedelta(minutes=62)
        barrier = threading.Barrier(4)
        fired: list[int] = []

        def race(app: object) -> None:
            barrier.wait()
            fired.append(tick(app, use_leader=False))  # type: ignore[arg-type]

        threads = [threading.Thread(target=race, args=(apps[i % 2],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(outbox_rows(apps[0], org.id, "reminder:status_update:")) == 2  # the unique key alone holds
    finally:
        for a in apps:
            a.close()


def test_reminders_ping_the_incident_commander_on_each_platform() -> None:
    """A reminder mentions the commander (Slack `<@U…>`, a Teams `<at>` tag with its entity): nobody else is
    notified by a line in a busy channel at 3 a.m. Without a commander it asks the room."""
    m = sev1_open()
    t = m.state.created_at if m.state else T0

    def reminder(now: datetime) -> rt.Rich:
        assert m.state is not None
        return due_reminders(m.state, m.events, now, ReminderPolicy())[0].content

    assert "has had no status update for 31m. Post one with " in reminder(t + timedelta(minutes=31)).plain()
    m.run(cmd.AssignRole, role=IncidentRole.COMMANDER, assignee="slack:U0CMDR", after=0)
    slack = mrkdwn(reminder(t + timedelta(minutes=31)))
    assert "no status update for 31m. <@U0CMDR>, post one with " in slack
    m.run(cmd.AssignRole, role=IncidentRole.COMMANDER, assignee="teams:aad-cara", after=0)
    text, tagged = TeamsText(accounts={"teams:aad-cara": ("29:cara", "Cara <b>")}).message(
        reminder(t + timedelta(minutes=31)))
    assert [(x.teams_id, x.tag) for x in tagged] == [("29:cara", "<at>Cara &lt;b&gt;</at>")]
    assert "<at>Cara &lt;b&gt;</at>, post one with " in text
    m.run(cmd.ChangeStatus, status=Status.MITIGATED)
    m.run(cmd.ChangeStatus, status=Status.RESOLVED)
    assert m.state is not None
    resolved = datetime.fromisoformat(m.state.status_times["resolved"])
    due = TeamsText(accounts={"teams:aad-cara": ("29:cara", "Cara")}).message(
        reminder(resolved + timedelta(days=7, hours=1)))
    assert "<at>Cara</at>, open it with " in due[0] and len(due[1]) == 1
