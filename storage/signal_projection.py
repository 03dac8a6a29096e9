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
from storage.engine import is_postgres
from storage.tables import ChatRoomRow, IncidentKey, SignalRow

KEYS = IncidentKey.__table__  # type: ignore[attr-defined]
SIGNALS = SignalRow.__table__  # type: ignore[attr-defined]
ROOMS = ChatRoomRow.__table__  # type: ignore[attr-defined]


def _insert(conn: Connection, table: sa.Table) -> Any:
    return postgresql.insert(table) if is_postgres(conn) else sqlite.insert(table)


_PROJECTED = (ev.SignalAttached, ev.SignalIgnored, ev.SignalResolved, ev.ChatRoomOpened)


def needs_projection(events: Sequence[ev.Event]) -> bool:
    """True when project_keys/project_signals/project_rooms would write anything for these events."""
    return any(isinstance(e, _PROJECTED) for e in events)


def project_keys(conn: Connection, state: IncidentState, events: Sequence[ev.Event]) -> None:
    """Mirror state.correlation_keys for every SignalAttached in `events`."""
    attached = [e for e in events if isinstance(e, ev.SignalAttached)]
    if not attached:
        return
    rows = {}
    for e in attached:
        for key in e.signal.get("correlation_keys", ()):
            rows[key] = {"incident_id": state.incident_id, "key": key[:300], "org_id": state.org_id,
                         "project_id": state.project_id, "last_seen_at": e.occurred_at}
    stmt = _insert(conn, KEYS)
    conn.execute(stmt.on_conflict_do_update(index_elements=["incident_id", "key"],
                                            set_={"last_seen_at": stmt.excluded.last_seen_at}), list(rows.values()))
    if len(state.correlation_keys) >= MAX_KEYS:
        oldest_kept = datetime.fromisoformat(min(state.correlation_keys.values()))
        conn.execute(KEYS.delete().where(KEYS.c.incident_id == state.incident_id,
                                         KEYS.c.last_seen_at < oldest_kept))


def keys_rows(state: IncidentState) -> list[dict[str, Any]]:
    """The incident_keys rows of one state (used by the projection rebuild)."""
    return [{"incident_id": state.incident_id, "key": k[:300], "org_id": state.org_id,
             "project_id": state.project_id, "last_seen_at": datetime.fromisoformat(seen)}
            for k, seen in state.correlation_keys.items()]


def project_signals(conn: Connection, events: Sequence[ev.Event]) -> None:
    """Upsert one `signals` row per signal event: where it went, its status, how often it came."""
    for e in events:
        row = _signal_row(e)
        if row is None:
            continue
        stmt = _insert(conn, SIGNALS)
        updates = {
            "incident_id": sa.func.coalesce(stmt.excluded.incident_id, SIGNALS.c.incident_id),
            "status": stmt.excluded.status, "title": stmt.excluded.title,
            "last_seen_at": stmt.excluded.last_seen_at, "deliveries": SIGNALS.c.deliveries + 1,
            "last_decision": stmt.excluded.last_decision,
        }
        if row["severity"]:
            updates["severity"] = stmt.excluded.severity
        conn.execute(stmt.on_conflict_do_update(index_elements=["org_id", "fingerprint"], set_=updates), row)


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
