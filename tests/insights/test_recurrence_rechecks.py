"""Recurrence matches kept current after the check: a match a narrower window no longer supports is withdrawn,
visibly (the timeline says why, the war room's line says it no longer applies), and a key a resolved incident gains
later reaches the open incidents sharing it (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.bootstrap import App
from bot.org_config import apply_org_config
from incident_core import events as ev
from incident_core import usecases as uc
from incident_core.commands import AttachSignal
from incident_core.recurrence import note_recurrence, preferred_sources, recheck_later_incidents
from incident_core.services.recurrence import RecurrenceWatcher
from incident_core.timeline import describe
from incident_core.warroom import build
from storage.insights_queries import SqlIncidentHistory
from tests.insights.history import RESPONDER, StepClock, open_incident, prior_and_open, signal


def test_a_narrowed_window_withdraws_a_match_now_outside_it(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    now = clock.at
    org = app.directory.create_org("withdraw-window")
    current, check = prior_and_open(app, clock, org.id, days_ago=20)

    assert check(30) is not None
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None and state.recurrence.prior == ("INC-1",)
    uc.add_note(deps=app.deps, org_id=org.id, incident_id=current, actor=RESPONDER,
                text="same as INC-1: following its runbook")  # a responder acted on the match
    clock.at = now + timedelta(minutes=5)
    assert check(7) is not None  # the org lowered recurrence_days to 7: INC-1 (20 days ago) no longer counts
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None
    assert state.recurrence.prior == () and state.recurrence.withdrawn == ("INC-1",)
    assert state.recurrence.window_days == 7 and preferred_sources(state) == ()
    line = build(state, clock.at).recurrence
    assert line == "no longer applies: INC-1 is outside the 7-day window (recurrence_days changed from 30)"
    withdrawn = [e for e in app.queries.timeline(org.id, current) if isinstance(e, ev.RecurrenceWithdrawn)]
    assert len(withdrawn) == 1 and withdrawn[0].prior == ("INC-1",) and withdrawn[0].previous_window_days == 30
    assert describe(withdrawn[0]).startswith("no longer recurring: ") and "outside the 7-day window" in \
        describe(withdrawn[0])
    assert check(7) is None  # checked with 7 days: nothing recorded twice
    clock.at = now + timedelta(minutes=8)
    assert check(30) is not None  # widened again: the match is back (not taken for the first one's repeat)
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None
    assert state.recurrence.prior == ("INC-1",) and state.recurrence.withdrawn == ()
    assert (build(state, clock.at).recurrence or "").startswith("2nd time in 30 days: INC-1")


def test_a_window_narrowed_but_still_holding_the_match_keeps_it(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    now = clock.at
    org = app.directory.create_org("withdraw-kept")
    open_incident(app, clock, org.id, 0, now - timedelta(days=20), ack_minutes=1, resolve_minutes=30, project_id=None)
    open_incident(app, clock, org.id, 0, now - timedelta(days=3), ack_minutes=1, resolve_minutes=30, project_id=None)
    current = open_incident(app, clock, org.id, 0, now, ack_minutes=1, resolve_minutes=None, project_id=None)
    clock.at = now + timedelta(minutes=2)
    history = SqlIncidentHistory(app.engine)
    for days in (30, 7):
        note_recurrence(deps=app.deps, queries=app.queries, history=history, tracker=None, org_id=org.id,
                        incident_id=current, window=timedelta(days=days))
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None
    assert state.recurrence.prior == ("INC-2",) and state.recurrence.window_days == 7
    assert not any(isinstance(e, ev.RecurrenceWithdrawn) for e in app.queries.timeline(org.id, current))


@dataclass(frozen=True)
class _Changed:
    """An `incident.changed` message as the recurrence watcher receives it."""

    org_id: str
    incident_id: str
    key: str = "changed"
    attempts: int = 0

    @property
    def payload(self) -> dict[str, str]:
        return {"incident_id": self.incident_id}


def test_a_key_a_resolved_incident_gains_later_reaches_the_open_incident(clocked: tuple[App, StepClock]) -> None:
    """INC-1 (payments, resolved) gets a late checkout alert after INC-2 (checkout, open) was checked: the
    watcher's pass over INC-1's change records INC-2's match, once, and never touches another org."""
    app, clock = clocked
    now = clock.at
    org, other = app.directory.create_org("late-key"), app.directory.create_org("late-key-other")
    prior = open_incident(app, clock, org.id, 1, now - timedelta(days=3), ack_minutes=1, resolve_minutes=30,
                          project_id=None)  # payments / DBConnections
    current = open_incident(app, clock, org.id, 0, now, ack_minutes=1, resolve_minutes=None,
                            project_id=None)  # checkout / HighLatency
    open_incident(app, clock, other.id, 0, now, ack_minutes=1, resolve_minutes=None, project_id=None)
    clock.at = now + timedelta(minutes=2)
    history = SqlIncidentHistory(app.engine)
    watcher = RecurrenceWatcher(deps=app.deps, queries=app.queries, history=history, tracker_for=lambda _org: None)
    watcher(_Changed(org.id, current))
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is None  # nothing shared yet
    watcher(_Changed(org.id, prior))
    assert history.open_sharing(org.id, prior) == []

    clock.at = now + timedelta(minutes=4)
    late = signal(org.id, 0, now - timedelta(days=3) + timedelta(minutes=10))  # checkout / HighLatency
    uc.apply_command(deps=app.deps, check_role=False, command=AttachSignal(
        org_id=org.id, incident_id=prior, actor="revenant", occurred_at=clock.at, signal=late.to_dict(),
        reason="late alert"))
    assert history.open_sharing(org.id, prior) == [current]
    assert history.later_untold(org.id, prior)
    watcher(_Changed(org.id, prior))  # what the outbox delivers for INC-1's change
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None and state.recurrence.prior == ("INC-1",)
    assert state.recurrence.key == "alertname+service=HighLatency/checkout"
    assert not history.later_untold(org.id, prior)
    assert recheck_later_incidents(deps=app.deps, queries=app.queries, history=history, tracker=None,
                                   org_id=org.id, incident_id=prior) == 0  # told once
    assert not history.recurrence_unchecked(org.id, current)  # the open incident's own mark stands
    others = [s for s in SqlIncidentHistory(app.engine).opened_since(other.id, now - timedelta(days=1))]
    assert len(others) == 1 and others[0].recurrence is None


def test_a_resolved_incident_opened_before_the_open_one_is_not_told_to_ones_opened_before_it_resolved(
        clocked: tuple[App, StepClock]) -> None:
    """Only open incidents opened after the resolved one's resolution can count it: the others are not rechecked."""
    app, clock = clocked
    now = clock.at
    org = app.directory.create_org("late-key-order")
    current = open_incident(app, clock, org.id, 0, now - timedelta(hours=2), ack_minutes=1, resolve_minutes=None,
                            project_id=None)
    prior = open_incident(app, clock, org.id, 0, now - timedelta(hours=1), ack_minutes=1, resolve_minutes=30,
                          project_id=None)
    clock.at = now
    history = SqlIncidentHistory(app.engine)
    assert history.open_sharing(org.id, prior) == [current]
    assert history.open_sharing(org.id, prior, opened_since=now - timedelta(minutes=30)) == []
    assert recheck_later_incidents(deps=app.deps, queries=app.queries, history=history, tracker=None,
                                   org_id=org.id, incident_id=prior) == 0
    after = app.queries.get(org.id, current)
    assert after is not None and after.recurrence is None


def test_changing_the_window_in_the_org_config_rechecks_open_incidents_at_once(
        clocked: tuple[App, StepClock], tmp_path: Path) -> None:
    """`revenant org config` with a new recurrence_days checks the org's open incidents then, not at their next
    change; an unchanged window checks nothing, and another org's incidents are not touched."""
    app, clock = clocked
    now = clock.at
    org, other = app.directory.create_org("window-config"), app.directory.create_org("window-config-other")
    current, check = prior_and_open(app, clock, org.id, days_ago=20)
    clock.at = now
    other_current, other_check = prior_and_open(app, clock, other.id, days_ago=20)
    assert check(30) is not None and other_check(30) is not None
    clock.at = now + timedelta(minutes=5)
    config = tmp_path / "insights.yml"
    config.write_text("insights:\n  recurrence_days: 30\n")
    reports: list[tuple[int, int]] = []
    assert "checked again" not in apply_org_config(app, org.id, config, progress=lambda *r: reports.append(r))
    assert reports == []  # the default: no change, no recheck, nothing to show

    config.write_text("insights:\n  recurrence_days: 7\n")
    said = apply_org_config(app, org.id, config, progress=lambda *r: reports.append(r))
    assert reports == [(0, 1), (1, 1)]  # the CLI's progress bar follows the recheck to its end
    assert "window changed from 30 days: 1 open incident(s) checked again, 1 recurrence line(s) updated" in said
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None and state.recurrence.withdrawn == ("INC-1",)
    assert build(state, clock.at).recurrence == \
        "no longer applies: INC-1 is outside the 7-day window (recurrence_days changed from 30)"
    untouched = app.queries.get(other.id, other_current)  # the other org keeps its 30-day match
    assert untouched is not None and untouched.recurrence is not None
    assert untouched.recurrence.prior == ("INC-1",) and untouched.recurrence.withdrawn == ()
    assert not any(isinstance(e, ev.RecurrenceWithdrawn) for e in app.queries.timeline(other.id, other_current))
