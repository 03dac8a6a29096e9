"""Migration 0013_pgcost: the state document is json, and the documents an ingest writes past the TOAST threshold
are compressed with lz4 on a PostgreSQL built with it (pglz otherwise), and read back whole (the columns' setting covers the raw payloads and
event data too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.bootstrap import App
from handlers.signals import normalize
from incident_core.intake import intake_signals
from storage.engine import scope_to_org
from storage.queries import SqlIncidentQueries
from tests.helpers import new_org

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _group(alerts: int) -> dict[str, Any]:
    """One Alertmanager group whose alerts carry distinct labels: one incident with many correlation keys."""
    return {"version": "4", "status": "firing", "receiver": "revenant", "groupKey": "{}:{alertname=\"Disk\"}",
            "truncatedAlerts": 0, "groupLabels": {"alertname": "Disk"}, "commonLabels": {"alertname": "Disk"},
            "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{"status": "firing", "labels": {"alertname": "Disk", "service": "storage", "instance": f"node-{i}",
                                                        "volume": f"vol-{i}", "rack": f"rack-{i}"},
                        "annotations": {"summary": f"disk {i} filling up", "description": "x" * 200},
                        "startsAt": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                        "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"{i:016x}"} for i in range(alerts)]}


def _expected(conn: sa.Connection) -> str:
    has_lz4 = conn.execute(sa.text("SELECT 'lz4' = ANY (enumvals) FROM pg_settings "
                                   "WHERE name = 'default_toast_compression'")).scalar()
    return "lz4" if has_lz4 else "pglz"


def test_the_state_document_is_json_written_with_lz4_and_read_back(pg_app: App) -> None:
    world = new_org(pg_app)
    signals = normalize("alertmanager", _group(60), org_id=world.org.id, project_id=None, received_at=T0)
    outcomes = intake_signals(deps=world.deps, org_id=world.org.id, signals=signals)
    incident_ids = {o.incident_id for o in outcomes}
    assert len(incident_ids) == 1
    incident_id = incident_ids.pop()
    assert incident_id is not None
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, world.org.id)
        expected = _expected(conn)
        state_size, state_method = conn.execute(sa.text(
            "SELECT octet_length(state::text), pg_column_compression(state) FROM incidents WHERE id = :id"),
            {"id": incident_id}).one()
        state_type = conn.execute(sa.text("SELECT data_type FROM information_schema.columns "
                                          "WHERE table_name = 'incidents' AND column_name = 'state'")).scalar()
        columns = dict(conn.execute(sa.text(
            "SELECT c.relname || '.' || a.attname, a.attcompression FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE (c.relname, a.attname) IN "
            "(('incidents', 'state'), ('raw_payloads', 'payload'), ('events', 'data'))")).all())
    assert state_type == "json"  # stored as sent: no jsonb parse per append, no rendering per read
    assert state_size > 4096  # past the TOAST threshold: PostgreSQL compresses it
    assert state_method == expected
    assert columns == dict.fromkeys(("incidents.state", "raw_payloads.payload", "events.data"),
                                    "l" if expected == "lz4" else "")
    state = SqlIncidentQueries(pg_app.engine).get(world.org.id, incident_id)
    assert state is not None and state.signal_count == 60
    assert {f"fingerprint={i:016x}" for i in range(60)} <= set(state.correlation_keys)
