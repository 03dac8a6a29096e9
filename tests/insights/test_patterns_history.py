"""Done-when: the patterns of a seeded history of 200 incidents match a hand-computed expectation (SQLite and
PostgreSQL), survive a projection rebuild unchanged, and never include another org's incidents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import App
from incident_core.insights_usecases import pattern_report
from incident_core.model import OrgRole
from storage.insights_queries import SqlIncidentHistory
from storage.projections import rebuild
from tests.conftest import make_app
from tests.insights.history import NOW, StepClock, approve_postmortem, open_incident, seed

HIGH_LATENCY = "alertname+service=HighLatency/checkout"
DB_CONNECTIONS = "alertname+service=DBConnections/payments"


@pytest.fixture
def clocked(db_url: str, tmp_path: Path) -> Iterator[tuple[App, StepClock]]:
    clock = StepClock()
    app = make_app(db_url, tmp_path, clock=clock)
    yield app, clock
    app.close()


def test_patterns_of_200_incidents_match_the_hand_computed_expectation(clocked: tuple[App, StepClock]) -> None:
    app, clock = clocked
    org = app.directory.create_org("history-org")
    other = app.directory.create_org("history-other")
    app.directory.set_role(org.id, "slack:UBOSS", OrgRole.COMMANDER)
    ids = seed(app, clock, org.id)
    # Another org's HighLatency on checkout, inside the period: never counted for this org.
    open_incident(app, clock, other.id, 0, NOW - timedelta(days=3), ack_minutes=1, resolve_minutes=10)
    clock.at = NOW - timedelta(days=2)
    approve_postmortem(app, clock, org.id, ids[184], [{"title": "Autoscale checkout on p99", "owner": "slack:UBOSS"},
                                                      {"title": "Alert on queue depth", "owner": "slack:UBOSS"}],
                       commander="slack:UBOSS")
    history = SqlIncidentHistory(app.queries.engine)

    report = pattern_report(history=history, tracker=None, org_id=org.id, now=NOW, period=timedelta(days=90))

    # i = 20…199 open inside the 90 days; services cycle every 4; see tests/insights/history.py.
    assert report.incidents == 180
    assert [(p.key, p.count) for p in report.patterns] == [
        ("service=auth", 45), ("service=search", 45), (DB_CONNECTIONS, 45),  # payments: all DBConnections
        ("service=checkout", 45), ("alertname+service=ErrorRate/checkout", 23), (HIGH_LATENCY, 22)]
    high = report.patterns[-1].to_dict()
    assert high["incidents"] == [f"INC-{i + 1}" for i in range(24, 193, 8)]
    assert high["last_occurred_at"] == "2026-05-28T00:00:00+00:00"  # i = 192: NOW - 100 d + 96 d
    assert high["mtta_seconds"] == 185.5  # (i % 5 + 1) min over i = 24, 32, …, 192: 68 min / 22
    assert high["mttr_seconds"] == 2400.0  # (i % 7 + 1) × 10 min: 880 min / 22
    assert high["severities"] == {"SEV1": 8, "SEV2": 7, "SEV3": 7}
    assert [(pm["incident"], [a["status"] for a in pm["action_items"]]) for pm in high["postmortems"]] == [
        ("INC-185", ["open", "open"])]
    assert high["action_items_open"] == 2
    db = report.patterns[2].to_dict()
    assert db["mtta_seconds"] == 180.0  # 135 min / 45
    assert db["mttr_seconds"] == 2416.7  # 9 of 45 still open (i ≡ 9 mod 20): 1450 min / 36
    assert db["severities"] == {"SEV1": 15, "SEV2": 15, "SEV3": 15}

    only_checkout = pattern_report(history=history, tracker=None, org_id=org.id, now=NOW,
                                   period=timedelta(days=30), service="checkout")
    assert only_checkout.incidents == 15  # i = 140…196 step 4 opened in the last 30 days
    assert {p.key: p.count for p in only_checkout.patterns} == {
        "service=checkout": 15, "alertname+service=ErrorRate/checkout": 8, HIGH_LATENCY: 7}

    rebuild(app.engine, org_ids=[org.id])
    again = pattern_report(history=history, tracker=None, org_id=org.id, now=NOW, period=timedelta(days=90))
    assert again.to_dict() == report.to_dict()
