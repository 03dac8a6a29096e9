"""POST /hooks/{source} over real HTTP: every source, correlation, bad input, concurrency."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage.engine import scope_to_org
from storage.unit_of_work import EVENTS
from tests.handlers.conftest import Server, fixture

SOURCES = {
    "alertmanager": "alertmanager/firing_group",
    "grafana": "grafana/firing_values",
    "datadog": "datadog/triggered",
    "pagerduty": "pagerduty/triggered",
    "generic": "generic/otel_log",
}


def event_count(server: Server, org_id: str) -> int:
    with server.app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return int(conn.execute(sa.select(sa.func.count()).select_from(EVENTS)
                                .where(EVENTS.c.org_id == org_id)).scalar())


@pytest.mark.parametrize("source", list(SOURCES))
async def test_each_source_opens_an_incident(server: Server, source: str) -> None:
    org_id, token = server.org()
    status, body = await server.post(source, fixture(SOURCES[source]), token)
    assert status == 202, body
    assert body["incident_ids"] == ["INC-1"]
    incident = server.app.queries.get(org_id, "INC-1")
    assert incident is not None and incident.signal_count == body["accepted"]
    assert incident.status.value == "triggered"


async def test_group_alerts_share_one_incident_and_redelivery_is_absorbed(server: Server) -> None:
    org_id, token = server.org()
    payload = fixture("alertmanager/firing_group")
    status, first = await server.post("alertmanager", payload, token)
    assert status == 202 and [s["action"] for s in first["signals"]] == ["open", "attach"]
    before = event_count(server, org_id)
    status, again = await server.post("alertmanager", payload, token)
    assert status == 202 and all(s["duplicate"] for s in again["signals"])
    assert again["incident_ids"] == ["INC-1"]
    assert event_count(server, org_id) == before


async def test_changed_annotations_keep_the_fingerprint(server: Server) -> None:
    org_id, token = server.org()
    payload = fixture("alertmanager/firing_group")
    await server.post("alertmanager", payload, token)
    edited = copy.deepcopy(payload)
    for alert in edited["alerts"]:
        alert["annotations"]["description"] = "now 9.9% 5xx"
        alert["annotations"]["summary"] = "checkout error ratio rising"
    server.clock.advance(minutes=2)
    _, body = await server.post("alertmanager", edited, token)
    assert [s["fingerprint"] for s in body["signals"]] == ["5f0b5c7e2a1d9c33", "a41e77c09b3f2d18"]
    assert body["incident_ids"] == ["INC-1"]
    assert all("same fingerprint" in s["reason"] for s in body["signals"] if not s["duplicate"])
    assert len(server.app.queries.list_incidents(org_id)) == 1


async def test_grouping_window_decides_attach_or_open(server: Server) -> None:
    org_id, token = server.org()
    payload = fixture("alertmanager/firing_group")
    await server.post("alertmanager", payload, token)
    later = copy.deepcopy(payload)
    later["alerts"] = later["alerts"][:1]
    server.clock.advance(minutes=29)
    later["alerts"][0]["startsAt"] = "2026-01-15T10:30:00Z"
    _, body = await server.post("alertmanager", later, token)
    assert body["signals"][0]["action"] == "attach" and body["incident_ids"] == ["INC-1"]
    server.clock.advance(minutes=31)
    later["alerts"][0]["startsAt"] = "2026-01-15T11:10:00Z"
    _, body = await server.post("alertmanager", later, token)
    assert body["signals"][0]["action"] == "open" and body["incident_ids"] == ["INC-2"]
    assert "older than 30 min" in body["signals"][0]["reason"]


async def test_resolved_updates_and_never_opens(server: Server) -> None:
    org_id, token = server.org()
    unseen = fixture("alertmanager/resolved")
    for alert in unseen["alerts"]:
        alert["fingerprint"] = "0000" + alert["fingerprint"][4:]
        alert["labels"]["service"] = "never-fired"
    status, body = await server.post("alertmanager", unseen, token)
    assert status == 202 and body["incident_ids"] == [] and body["signals"][0]["action"] == "ignore"
    assert server.app.queries.list_incidents(org_id) == []
    await server.post("alertmanager", fixture("alertmanager/firing_group"), token)
    server.clock.advance(hours=3)
    _, body = await server.post("alertmanager", fixture("alertmanager/resolved"), token)
    assert body["signals"][0]["action"] == "update_only" and body["incident_ids"] == ["INC-1"]
    timeline = server.app.queries.timeline(org_id, server.app.queries.get(org_id, "INC-1").incident_id)  # type: ignore[union-attr]
    assert timeline[-1].type_name == "SignalResolved"


async def test_two_orgs_sending_identical_payloads_stay_separate(server: Server) -> None:
    (a, ta), (b, tb) = server.org(), server.org()
    payload = fixture("alertmanager/firing_group")
    _, ra = await server.post("alertmanager", payload, ta)
    _, rb = await server.post("alertmanager", payload, tb)
    assert ra["incident_ids"] == rb["incident_ids"] == ["INC-1"]
    assert not any(s["duplicate"] for s in rb["signals"])
    ia, ib = server.app.queries.get(a, "INC-1"), server.app.queries.get(b, "INC-1")
    assert ia is not None and ib is not None and ia.incident_id != ib.incident_id
    assert ia.signal_count == ib.signal_count == 2


async def test_twenty_concurrent_deliveries_create_exactly_one_incident(server: Server) -> None:
    org_id, token = server.org()
    payload = fixture("alertmanager/firing_group")
    results = await asyncio.gather(*(server.post("alertmanager", payload, token) for _ in range(20)))
    assert all(status == 202 for status, _ in results), results
    assert len(server.app.queries.list_incidents(org_id)) == 1
    incident = server.app.queries.get(org_id, "INC-1")
    assert incident is not None and incident.signal_count == 2
    assert sum(not s["duplicate"] for _, body in results for s in body["signals"]) == 2


async def test_below_minimum_severity_is_recorded_but_opens_nothing(server: Server) -> None:
    org_id, token = server.org()
    info = {"title": "disk 61% on db-1", "severity": "info", "service": "db", "status": "firing"}
    status, body = await server.post("generic", info, token)
    assert status == 202 and body["incident_ids"] == [] and body["signals"][0]["action"] == "ignore"
    assert "below" in body["signals"][0]["reason"]
    assert event_count(server, org_id) == 1  # the decision is an event with its reason


@pytest.mark.parametrize("case,status", [
    ("no_token", 401), ("bad_token", 401), ("unknown_source", 404), ("text_plain", 415),
    ("malformed", 400), ("empty", 400), ("wrong_shape", 422), ("too_large", 413), ("deep", 400),
])
async def test_bad_input_is_a_clear_4xx_and_writes_nothing(server: Server, case: str, status: int) -> None:
    org_id, token = server.org()
    source, body, raw, ctype = "alertmanager", fixture("alertmanager/firing_group"), None, "application/json"
    if case == "no_token":
        token = ""
    elif case == "bad_token":
        token = token[:-2] + "xx"
    elif case == "unknown_source":
        source = "nagios"
    elif case == "text_plain":
        ctype = "text/plain"
    elif case == "malformed":
        raw = b'{"alerts": ['
    elif case == "empty":
        raw = b""
    elif case == "wrong_shape":
        body = {"version": "4", "alerts": [{"labels": "not-a-map"}]}
    elif case == "too_large":
        raw = b'{"alerts": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    elif case == "deep":
        raw = b"[" * 100_000 + b"]" * 100_000
    got, answer = await server.post(source, body, token, raw=raw, content_type=ctype)
    assert got == status, answer
    assert isinstance(answer, dict) and "error" in answer
    if case == "wrong_shape":
        assert answer["field"].startswith("alerts[0]")
    assert event_count(server, org_id) == 0


async def test_metrics_count_by_source_and_reason(server: Server) -> None:
    _, token = server.org()
    await server.post("alertmanager", fixture("alertmanager/firing_group"), token)
    await server.post("alertmanager", {"alerts": 1}, token)
    async with server.session.get(server.url + "/metrics") as r:
        text = await r.text()
    assert 'revenant_signals_accepted_total{source="alertmanager"} 2.0' in text
    assert 'revenant_signals_rejected_total{reason="invalid_payload",source="alertmanager"} 1.0' in text
    assert 'revenant_incidents_opened_total{source="alertmanager"} 1.0' in text
    assert "revenant_ingest_seconds_bucket" in text


async def test_projection_rebuild_after_ingestion_is_exact(server: Server) -> None:
    from storage.projections import rebuild, snapshot

    org_id, token = server.org()
    for name in ("alertmanager/firing_group", "grafana/firing_values", "generic/otel_log", "datadog/triggered"):
        await server.post(name.split("/")[0], fixture(name), token)
        server.clock.advance(minutes=1)
    await server.post("alertmanager", fixture("alertmanager/resolved"), token)
    await server.post("generic", {"title": "fyi", "severity": "info"}, token)
    before = snapshot(server.app.engine, org_id)
    assert before["signals"] and before["incident_keys"]
    rebuild(server.app.engine, org_ids=[org_id])
    assert snapshot(server.app.engine, org_id) == before


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
async def test_non_standard_json_constants_are_400(server: Server, constant: bytes) -> None:
    org_id, token = server.org()
    got, answer = await server.post("generic", None, token,
                                    raw=b'{"title": "x", "severity": "error", "value": ' + constant + b"}")
    assert got == 400 and "not valid JSON" in answer["error"]
    assert event_count(server, org_id) == 0


async def test_a_remembered_token_is_checked_without_a_thread_and_revocation_still_applies(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    org_id, token = server.org()
    lookups: list[object] = []
    to_thread = asyncio.to_thread

    async def counting(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if getattr(fn, "__name__", "") == "authenticate_token":
            lookups.append(args)
        return await to_thread(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counting)
    body = fixture("alertmanager/firing_group")
    assert (await server.post("alertmanager", body, token))[0] == 202
    assert len(lookups) == 1  # verified once against the database, then remembered
    assert (await server.post("alertmanager", body, token))[0] == 202
    assert len(lookups) == 1  # answered from the cache on the event loop
    server.app.directory.rotate_token(org_id, grace=timedelta(0))  # revoked: the old token expires now
    status, answer = await server.post("alertmanager", body, token)
    assert status == 401 and "invalid or expired" in answer["error"]


async def test_a_remembered_token_stops_working_when_its_grace_period_ends(server: Server) -> None:
    org_id, old = server.org()
    server.app.directory.rotate_token(org_id, grace=timedelta(seconds=1))
    body = fixture("alertmanager/firing_group")
    assert (await server.post("alertmanager", body, old))[0] == 202  # remembered now, with its expiry
    assert server.app.directory.cached_token(old) is not None
    await asyncio.sleep(1.1)
    assert server.app.directory.cached_token(old) is None
    assert (await server.post("alertmanager", body, old))[0] == 401
