"""A recurrence counts earlier incidents of the same org and the same project only, resolved before it opened."""

from __future__ import annotations

from datetime import timedelta

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.model import OrgRole
from incident_core.recurrence import note_recurrence, recheck_later_incidents
from storage.insights_queries import SqlIncidentHistory
from tests.insights.history import StepClock, approve_postmortem, open_incident, prior_and_open


def test_only_the_same_project_and_org_count(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    now = clock.at
    org, other = app.directory.create_org("scope-org"), app.directory.create_org("scope-other")
    web, api = app.directory.create_project(org.id, "web"), app.directory.create_project(org.id, "api")
    for days, project in ((9, web.id), (7, api.id), (5, None), (3, web.id)):
        open_incident(app, clock, org.id, 0, now - timedelta(days=days), ack_minutes=1, resolve_minutes=30,
                      project_id=project)
    open_incident(app, clock, other.id, 0, now - timedelta(days=2), ack_minutes=1, resolve_minutes=30,
                  project_id=None)
    open_incident(app, clock, org.id, 0, now - timedelta(days=40), ack_minutes=1, resolve_minutes=30,
                  project_id=web.id)  # outside the 30 days
    current = open_incident(app, clock, org.id, 0, now, ack_minutes=1, resolve_minutes=None, project_id=web.id)
    clock.at = now + timedelta(minutes=2)
    history = SqlIncidentHistory(app.engine)
    result = note_recurrence(deps=app.deps, queries=app.queries, history=history, tracker=None, org_id=org.id,
                             incident_id=current)
    assert result is not None
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None and state.recurrence.prior == ("INC-1", "INC-4")  # web's, in 30 days
    assert state.recurrence is not None and state.recurrence.key == "alertname+service=HighLatency/checkout"
    again = note_recurrence(deps=app.deps, queries=app.queries, history=history, tracker=None, org_id=org.id,
                            incident_id=current)
    assert again is None  # nothing changed: nothing recorded twice


def test_an_org_that_widens_its_window_has_its_open_incidents_checked_again(clocked: tuple[App, StepClock]) -> None:
    """The check mark is bound to the window: before, an incident checked with 30 days (no match) stayed checked
    when the org set `recurrence_days: 90`, and its keys never changing, it was never matched."""
    app, clock = clocked
    org = app.directory.create_org("scope-window")
    current, check = prior_and_open(app, clock, org.id, days_ago=40)

    assert check(30) is None  # 40 days ago is outside the window
    assert check(90) is not None  # the org widened it: the same keys are checked again, and match
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None
    assert state.recurrence.prior == ("INC-1",) and state.recurrence.window_days == 90
    assert check(90) is None  # checked for these keys and this window: nothing recorded twice


def test_a_postmortem_approved_after_the_check_reaches_the_open_incident(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    now = clock.at
    org = app.directory.create_org("scope-postmortem")
    app.directory.set_role(org.id, "u:cmd", OrgRole.COMMANDER)
    prior = open_incident(app, clock, org.id, 0, now - timedelta(days=3), ack_minutes=1, resolve_minutes=30,
                          project_id=None)
    current = open_incident(app, clock, org.id, 0, now, ack_minutes=1, resolve_minutes=None, project_id=None)
    clock.at = now + timedelta(minutes=2)
    history = SqlIncidentHistory(app.engine)

    def check() -> object:
        return note_recurrence(deps=app.deps, queries=app.queries, history=history, tracker=None, org_id=org.id,
                               incident_id=current)

    assert check() is not None
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None and state.recurrence.postmortems == ()
    clock.at = now + timedelta(minutes=5)
    uc.add_note(deps=app.deps, org_id=org.id, incident_id=current, actor="u:cmd", text="still slow")
    assert check() is None  # its keys did not change: checked already, nothing new to say

    def recheck(incident_id: str) -> int:  # what the watcher does on the prior's change
        return recheck_later_incidents(deps=app.deps, queries=app.queries, history=history, tracker=None,
                                       org_id=org.id, incident_id=incident_id)

    assert recheck(prior) == 0  # no approved postmortem yet
    approve_postmortem(app, clock, org.id, prior, [{"title": "Autoscale checkout", "owner": "x"}], commander="u:cmd")
    assert recheck(current) == 0  # an open incident is nobody's prior
    assert recheck(prior) == 1
    state = app.queries.get(org.id, current)
    assert state is not None and state.recurrence is not None
    assert [p.incident for p in state.recurrence.postmortems] == ["INC-1"]
    assert state.recurrence.items_open == 1
    assert recheck(prior) == 0  # said once: the open incident's match already names the postmortem
    other = app.directory.create_org("scope-postmortem-other")  # another org's incidents are never touched
    assert history.open_sharing(other.id, prior) == [] and history.open_sharing(org.id, prior) == [current]
