"""Pure rules of insights: alert keys and their scope, the best match of a new incident, the war-room line,
digest slots (fire once per slot, within a grace period), periods, and the weekly series."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incident_core.correlation import key_strength
from incident_core.errors import ValidationError
from incident_core.insights import DigestSchedule, parse_period, weekly_series
from incident_core.insights_usecases import due_digests
from incident_core.model import Severity, Status
from incident_core.org_settings import OrgSettings, ProjectSettings
from incident_core.patterns import (
    PastIncident,
    alert_keys,
    find_patterns,
    key_label,
    next_alert_keys,
    state_alert_keys,
)
from incident_core.recurrence import best_match
from incident_core.recurrence_text import line, ordinal
from incident_core.state import IncidentState
from incident_core.state_models import Recurrence

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def incident(n: int, days: float, *, services: tuple[str, ...] = ("checkout",), alerts: tuple[str, ...] = (),
             resolve_minutes: float | None = 30) -> PastIncident:
    opened = T0 + timedelta(days=days)
    return PastIncident(incident_id=f"id{n}", human_id=f"INC-{n}", project_id=None, title="t", severity=Severity.SEV2,
                        opened_at=opened, acknowledged_at=opened + timedelta(minutes=2),
                        resolved_at=None if resolve_minutes is None else opened + timedelta(minutes=resolve_minutes),
                        services=services, alert_keys=alerts)


def test_the_strongest_key_stands_for_an_alert() -> None:
    # Strength is the correlation policy's (incident_core/correlation.py KEY_STRENGTH); unknown kinds are weakest.
    keys = ["alertname=HighLatency", "alertname+service=HighLatency/checkout", "service=checkout",
            "fingerprint=x", "alertname+service=Disk/db", "alertname+cluster/namespace=Disk/prod/db", "alertname=Ping"]
    assert alert_keys(keys) == ("alertname+service=Disk/db", "alertname+service=HighLatency/checkout",
                                "alertname=Ping")
    assert key_label("alertname+service=HighLatency/checkout") == "HighLatency (service checkout)"
    assert key_label("service=checkout") == "service checkout" and key_label("alertname=Foo") == "Foo"


KIND = st.sampled_from(["alertname", "alertname+service", "alertname+scope", "alertname+instance", "alertnamex",
                        "service", "fingerprint", "namespace", "alert"])
PART = st.text(alphabet="ab/=", max_size=4)


@given(st.lists(st.builds(lambda k, n, s: f"{k}={n}/{s}" if s else f"{k}={n}", KIND, PART, PART), max_size=30))
def test_each_alert_name_is_stood_for_by_its_strongest_key_then_the_greatest(keys: list[str]) -> None:
    chosen = alert_keys(keys)
    names = {k.partition("=")[2].split("/", 1)[0] for k in keys if k.partition("=")[0].startswith("alertname")}
    names.discard("")
    assert len(chosen) == len(names) and list(chosen) == sorted(chosen)
    for key in chosen:
        name = key.partition("=")[2].split("/", 1)[0]
        rivals = [k for k in keys if k.partition("=")[0].startswith("alertname")
                  and k.partition("=")[2].split("/", 1)[0] == name]
        assert (key_strength(key), key) == max((key_strength(k), k) for k in rivals)


KEY = st.builds(lambda k, n, s: f"{k}={n}/{s}" if s else f"{k}={n}", KIND, PART, PART)


@given(st.lists(KEY, max_size=30), st.lists(KEY, max_size=8), st.lists(st.integers(0, 29), max_size=3),
       st.booleans())
def test_alert_keys_after_a_change_are_those_of_the_state_after(before: list[str], added: list[str],
                                                                dropped: list[int], known: bool) -> None:
    # What storage/pattern_index.patterns_changed decides from: the state before's alert keys (remembered on
    # it) and the keys the append added; with a key evicted, or none added, the answer is the same.
    state = IncidentState(incident_id="i", org_id="o", project_id=None, number=1, title="t",
                          status=Status.TRIGGERED, severity=Severity.SEV2, created_at=T0, updated_at=T0, version=1,
                          declared_by="u", correlation_keys=dict.fromkeys(before, "t0"))
    if known:
        state_alert_keys(state)  # remembered on the state before (what an earlier append did)
    keys = {**state.correlation_keys, **dict.fromkeys(added, "t1")}
    for index in dropped:  # an eviction
        keys.pop(before[index], None) if index < len(before) else None
    after = replace(state, version=2, correlation_keys=keys)
    assert next_alert_keys(state, after) == alert_keys(keys) == state_alert_keys(after)
    assert state_alert_keys(state) == alert_keys(before)


def test_the_same_alert_in_another_scope_is_another_pattern() -> None:
    a = "alertname+service=HighLatency/checkout"
    b = "alertname+service=HighLatency/search"
    found = find_patterns([incident(1, 0, alerts=(a,)), incident(2, 1, alerts=(b,), services=("search",)),
                           incident(3, 2, alerts=(a,))])
    assert [(p.key, p.count) for p in found] == [(a, 2)]  # service=checkout holds the same two: said once


def test_best_match_prefers_an_alert_over_the_service_and_ignores_later_incidents() -> None:
    a = "alertname+service=HighLatency/checkout"
    now = incident(9, 10, alerts=(a,))
    history = [incident(1, 0), incident(2, 1), incident(3, 2), incident(4, 3, alerts=(a,)), incident(5, 11, alerts=(a,))]
    match = best_match(now, history)
    assert match is not None and match.key == a and [i.human_id for i in match.prior] == ["INC-4"]
    only_service = best_match(incident(9, 10), history)
    assert only_service is not None and only_service.key == "service=checkout"
    assert [i.human_id for i in only_service.prior] == ["INC-1", "INC-2", "INC-3", "INC-4"]
    assert best_match(incident(9, 10, services=("auth",)), history) is None
    still_open = [incident(1, 9.99, alerts=(a,), resolve_minutes=None)]  # opened just before, not resolved
    assert best_match(now, still_open) is None


def test_war_room_line() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
    rec = Recurrence.from_dict({"key": "k", "prior": ["INC-3", "INC-7", "INC-9"], "window_days": 30,
                                "postmortems": [{"incident": "INC-7"}], "items_open": 2, "items_done": 1})
    assert line(rec) == "4th time in 30 days: INC-3, INC-7, INC-9 · postmortem of INC-7 · 2 action items still open"
    many = Recurrence.from_dict({"key": "k", "prior": [f"INC-{n}" for n in range(1, 9)], "window_days": 90})
    assert line(many) == "9th time in 90 days: INC-4, INC-5, INC-6, INC-7, INC-8 (+3 earlier) · no postmortem yet"
    assert line(Recurrence.from_dict({"key": "k", "prior": ["INC-1"], "postmortems": [{"incident": "INC-1"}],
                                      "items_done": 2})).endswith(
        "all 2 action items done")
    assert line(Recurrence.from_dict({})) == "" and line(None) == ""


def test_digest_slots_fire_once_per_week_within_a_day() -> None:
    settings = OrgSettings.from_dict(
        {"insights": {"digest": {"slack_channel": "C1", "teams_channel": "19:x", "weekday": "mon", "hour": 9}}})
    at_nine = due_digests(org_settings=settings, projects=[], now=T0)
    assert [(m.payload["platform"], m.key) for m in at_nine] == [
        ("slack", "digest:slack:org:2026-03-02T09:00:00+00:00"), ("teams", "digest:teams:org:2026-03-02T09:00:00+00:00")]
    later = due_digests(org_settings=settings, projects=[], now=T0 + timedelta(hours=20))
    assert [m.key for m in later] == [m.key for m in at_nine]  # the same slot: the outbox key makes it fire once
    assert due_digests(org_settings=settings, projects=[], now=T0 + timedelta(days=2)) == []  # missed: next week
    assert due_digests(org_settings=settings, projects=[], now=T0 - timedelta(minutes=1)) == []
    project = due_digests(org_settings=OrgSettings(), projects=[
        ("p1", ProjectSettings.from_dict({"insights": {"digest": {"slack_channel": "C2"}}}))], now=T0)
    assert [m.key for m in project] == ["digest:slack:p1:2026-03-02T09:00:00+00:00"]


@pytest.mark.parametrize("raw,error", [({"slack_channel": "C1", "weekday": "funday"}, "weekday"),
                                       ({"slack_channel": "C1", "hour": 24}, "hour"), ("C1", "mapping")])
def test_bad_digest_settings_are_refused(raw: object, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        DigestSchedule.from_settings(raw)


def test_periods() -> None:
    assert parse_period("30d") == timedelta(days=30) and parse_period("12w") == timedelta(weeks=12)
    for bad in ("0d", "400d", "1y", "", "30"):
        with pytest.raises(ValidationError):
            parse_period(bad)


def test_weekly_series_counts_by_opening_week_and_keeps_the_top_services() -> None:
    items = [incident(n, n * 0.5, services=(f"svc{n % 8}",), resolve_minutes=60 if n % 2 else None)
             for n in range(28)]
    series = weekly_series(items, last_week=date(2026, 3, 9), weeks=3, top=4)
    assert [w.start.isoformat() for w in series.weeks] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    assert series.services[-1] == "other" and len(series.services) == 4
    assert [w.total for w in series.weeks] == [0, 14, 14]
    assert series.weeks[1].mttr_seconds == 3600.0 and series.weeks[0].mttr_seconds is None


def test_org_config_stores_insights_settings(tmp_path: Path) -> None:
    from bot.org_config import apply_org_config
    from tests.conftest import make_app

    app = make_app(f"sqlite:///{tmp_path / 'r.db'}", tmp_path)
    try:
        org = app.directory.create_org("cfg")
        web = app.directory.create_project(org.id, "web")
        good = tmp_path / "good.yml"
        good.write_text("insights:\n  recurrence_days: 60\n  digest: {slack_channel: C1, weekday: fri, hour: 16}\n"
                        "  projects:\n    web: {digest: {teams_channel: '19:x@thread.tacv2'}}\n")
        assert "weekly digest for: org, web" in apply_org_config(app, org.id, good)
        assert app.directory.require_org(org.id).settings["insights"]["recurrence_days"] == 60
        assert app.directory.project(org.id, web.id).settings["insights"]["digest"]["teams_channel"]  # type: ignore[union-attr]
        for body, error in (("insights:\n  digest: {slack_channel: C1, hour: 30}\n", "hour"),
                            ("insights:\n  projects: {nope: {}}\n", "unknown project"),
                            ("insights:\n  recurrence_days: 0\n", "recurrence_days")):
            bad = tmp_path / "bad.yml"
            bad.write_text(body)
            with pytest.raises(ValidationError, match=error):
                apply_org_config(app, org.id, bad)
    finally:
        app.close()
