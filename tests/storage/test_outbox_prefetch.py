"""A claim that prefetches (storage/outbox_pg.py CLAIM): on PostgreSQL a leased message naming an incident comes with
the incident's state and pattern-key index marks, equal to what the subscribers' own reads return, read within the
claim's org only; nothing for a deferred message, a message naming no incident, or without `prefetch`. SQLite reads
nothing ahead (its subscribers read as before). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.intake import intake_signals
from incident_core.patterns import check_mark
from incident_core.recurrence import signature
from storage.insights_queries import SqlIncidentHistory
from storage.outbox import COALESCED_TOPIC, PendingMessage, Release
from tests.insights.history import signal
from tests.storage.test_outbox_claim import leave_nothing_due, org_of
from tests.storage.test_outbox_deliveries import put

__all__ = ["leave_nothing_due"]  # the fixture, shared with the claim tests


def pg(app: App) -> bool:
    return app.engine.dialect.name == "postgresql"


def incident_in(app: App, org_id: str, n: int = 0) -> str:
    """An incident opened by an alert (it has pattern keys); its refresh is the org's next message."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    outcome = intake_signals(deps=app.deps, org_id=org_id, signals=[signal(org_id, n, at)])[0]
    assert outcome.incident_id is not None
    return str(outcome.incident_id)


def claim(app: App, org_id: str, **kw: object) -> PendingMessage:
    msg = app.outbox.claim(org_id, owner="p1", **kw)  # type: ignore[arg-type]
    assert msg is not None
    return msg


@pytest.fixture
def org(app: App) -> Iterator[str]:
    yield org_of(app)


def test_a_leased_refresh_comes_with_its_incidents_state_and_marks(app: App, org: str) -> None:
    incident = incident_in(app, org)
    history = SqlIncidentHistory(app.engine)
    state = app.queries.get(org, incident)
    assert state is not None and signature(state)
    history.mark_recurrence_checked(org, incident, signature(state))
    msg = claim(app, org, prefetch=True)
    assert msg.topic == COALESCED_TOPIC and msg.payload["incident_id"] == incident
    if not pg(app):
        assert msg.prefetched is None  # SQLite: the subscribers read it themselves
        return
    got = msg.prefetched
    assert got is not None and (got.org_id, got.incident_id) == (org, incident)
    assert got.state.to_dict() == state.to_dict()
    assert got.marks == history.marks(org, incident) == (signature(state), check_mark(signature(state)))


def test_the_next_claim_after_a_release_prefetches_too(app: App, org: str) -> None:
    first, second = incident_in(app, org, 0), incident_in(app, org, 1)
    assert first != second
    held = claim(app, org)  # no prefetch asked
    assert held.prefetched is None and held.payload["incident_id"] == first
    released, msg = app.outbox.release_then_claim(Release(held, "p1", None), org, prefetch=True)
    assert released and msg is not None and msg.payload["incident_id"] == second
    if pg(app):
        assert msg.prefetched is not None and msg.prefetched.state.incident_id == second
        assert msg.prefetched.marks == SqlIncidentHistory(app.engine).marks(org, second)
    else:
        assert msg.prefetched is None


def test_no_prefetch_for_a_deferred_refresh_another_topic_or_another_orgs_incident(app: App, org: str) -> None:
    incident = incident_in(app, org)
    deferred = claim(app, org, prefetch=True, settling={incident: datetime.now(UTC) + timedelta(minutes=5)})
    assert deferred.deferred_until is not None and deferred.prefetched is None  # not leased: nothing read
    put(app, org, "note")  # names no incident
    assert claim(app, org, prefetch=True).prefetched is None
    other = org_of(app)
    foreign = incident_in(app, other)
    put(app, org, "stray", topic=COALESCED_TOPIC, incident_id=foreign)  # another org's incident id, in this org
    stray = claim(app, org, prefetch=True)
    assert stray.key == "stray" and stray.prefetched is None  # read within the claim's org only: not found
    own = claim(app, other, prefetch=True)
    assert own.payload["incident_id"] == foreign
    assert (own.prefetched is not None) == pg(app)


def test_marks_of_an_incident_without_pattern_keys_are_none(app: App, org: str) -> None:
    declared = uc.declare_incident(deps=app.deps, org_id=org, actor="slack:U1", title="Something odd",
                                   source="chat", check_role=False).state.incident_id
    msg = claim(app, org, prefetch=True)
    assert msg.payload["incident_id"] == declared
    if pg(app):
        assert msg.prefetched is not None and msg.prefetched.marks is None
        assert SqlIncidentHistory(app.engine).marks(org, declared) is None

