"""A recurrence counts earlier incidents of the same org and the same project only, resolved before it opened."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.bootstrap import App
from incident_core.recurrence import note_recurrence
from storage.insights_queries import SqlIncidentHistory
from tests.conftest import make_app
from tests.insights.history import StepClock, open_incident


@pytest.fixture
def clocked(db_url: str, tmp_path: Path) -> Iterator[tuple[App, StepClock]]:
    clock = StepClock(datetime.now(UTC))
    app = make_app(db_url, tmp_path, clock=clock)
    yield app, clock
    app.close()


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
