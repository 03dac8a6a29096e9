"""Signal projections written beside the events: incident correlation keys and signals by fingerprint."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from incident_core import events as ev
from incident_core.state import MAX_KEYS, IncidentState
from storage.append_rules import keys_trim, keys_upsert, signals_upsert
from storage.engine import is_postgres
from storage.tables import ChatRoomRow, IncidentKey, SignalRow

KEYS = IncidentKey.__table__  # type: ignore[attr-defined]
SIGNALS = SignalRow.__table__  # type: ignore[attr-defined]
ROOMS = ChatRoomRow.__table__  # type: ignore[attr-defined]


_UPSERTS: dict[tuple[str, str], Any] = {}  # (dialect, table): the upsert statement, built once


def opens_rooms(events: Sequence[ev.Event]) -> bool:
    """True when project_rooms has something to write for these events."""
    return any(isinstance(e, ev.ChatRoomOpened) for e in events)


def _upsert(conn: Connection, table: sa.Table) -> Any:
    dialect = "postgresql" if is_postgres(conn) else "sqlite"
    stmt = _UPSERTS.get((dialect, table.name))
    if stmt is None:
        base = (postgresql if dialect == "postgresql" else sqlite).insert(table)
        stmt = keys_upsert(base) if table is KEYS else signals_upsert(base)
        _UPSERTS[(dialect, table.name)] = stmt
    return stmt


def key_rows(state: IncidentState, events: Sequence[ev.Event]) -> tuple[list[dict[str, Any]], datetime | None]:
    """incident_keys rows to upsert for the SignalAttached in `events`, and the time before which the
    incident's keys are dropped (None unless state.correlation_keys is full), mirroring the state."""
    rows: dict[str, dict[str, Any]] = {}
    for e in events:
        if isinstance(e, ev.SignalAttached):
            for key in e.signal.get("correlation_keys", ()):
                rows[key] = {"incident_id": state.incident_id, "key": key[:300], "org_id": state.org_id,
                             "project_id": state.project_id, "last_seen_at": e.occurred_at}
    floor = None
    if rows and len(state.correlation_keys) >= MAX_KEYS:
        floor = datetime.fromisoformat(min(state.correlation_keys.values()))
    return list(rows.values()), floor


def signal_rows(events: Sequence[ev.Event]) -> list[dict[str, Any]]:
    """One `signals` upsert row per signal event, in order (a fingerprint may repeat)."""
    return [row for row in map(_signal_row, events) if row is not None]


def fold_signals(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`signal_rows` with one row per fingerprint, so that one upsert writes them all (a statement may not update
    a row twice). The row upserted leaves what upserting each in turn would: the first sighting's time, source and
    service (written only by an insert), the last status, title, time and decision, the last incident and the last
    severity given, and the sightings counted in `deliveries`."""
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["org_id"], row["fingerprint"])
        first = folded.get(key)
        if first is None:
            folded[key] = dict(row)
            continue
        first.update(status=row["status"], title=row["title"], last_seen_at=row["last_seen_at"],
                     last_decision=row["last_decision"], deliveries=first["deliveries"] + row["deliveries"])
        if row["incident_id"] is not None:
            first["incident_id"] = row["incident_id"]
        if row["severity"] != "":
            first["severity"] = row["severity"]
    return list(folded.values())


def project_keys(conn: Connection, state: IncidentState, events: Sequence[ev.Event]) -> None:
    """Mirror state.correlation_keys for every SignalAttached in `events`."""
    rows, floor = key_rows(state, events)
    if rows:
        conn.execute(_upsert(conn, KEYS), rows)
    if floor is not None:
        conn.execute(keys_trim(state.incident_id, floor))


def keys_rows(state: IncidentState) -> list[dict[str, Any]]:
    """The incident_keys rows of one state (used by the projection rebuild)."""
    return [{"incident_id": state.incident_id, "key": k[:300], "org_id": state.org_id,
             "project_id": state.project_id, "last_seen_at": datetime.fromisoformat(seen)}
            for k, seen in state.correlation_keys.items()]


def project_signals(conn: Connection, events: Sequence[ev.Event]) -> None:
    """Upsert one `signals` row per signal (its events folded): where it went, its status, how often it came."""
    rows = fold_signals(signal_rows(events))
    if rows:
        conn.execute(_upsert(conn, SIGNALS), rows)


def _signal_row(e: ev.Event) -> dict[str, Any] | None:
    if isinstance(e, ev.SignalAttached | ev.SignalIgnored):
        s = e.signal
        incident = e.incident_id if isinstance(e, ev.SignalAttached) else None
        return {"org_id": e.org_id, "fingerprint": str(s.get("fingerprint", ""))[:128], "incident_id": incident,
                "source": str(s.get("source", ""))[:32], "title": str(s.get("title", ""))[:300],
                "status": str(s.get("status", "firing")), "severity": str(s.get("severity", "")),
                "service": s.get("service"), "first_seen_at": e.occurred_at, "last_seen_at": e.occurred_at,
                "deliveries": 1, "last_decision": e.reason[:500]}
    if isinstance(e, ev.SignalResolved):
        return {"org_id": e.org_id, "fingerprint": e.fingerprint[:128], "incident_id": e.incident_id,
                "source": "", "title": e.title[:300], "status": "resolved", "severity": "",
                "service": None, "first_seen_at": e.occurred_at, "last_seen_at": e.occurred_at,
                "deliveries": 1, "last_decision": e.reason[:500]}
    return None


def project_rooms(conn: Connection, events: Sequence[ev.Event]) -> None:
    """Map each chat room opened for an incident back to it (commands in a room find their incident)."""
    for e in events:
        if isinstance(e, ev.ChatRoomOpened):
            conn.execute(ROOMS.delete().where(ROOMS.c.org_id == e.org_id, ROOMS.c.platform == e.platform,
                                              ROOMS.c.room_id == e.room_id))
            conn.execute(ROOMS.insert().values(platform=e.platform, room_id=e.room_id, org_id=e.org_id,
                                               incident_id=e.incident_id, name=e.room_name,
                                               message_id=e.message_id))
