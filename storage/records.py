"""Translate between domain events/state and table rows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from incident_core.event_schema import FIRST_VERSION
from incident_core.events import Event, event_from_record
from incident_core.state import IncidentState


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_UNSTORABLE = re.compile(r"\\u0000|\\ud[89a-f][0-9a-f]{2}", re.I)


def json_safe(data: dict[str, Any]) -> dict[str, Any]:
    """Raw webhook payloads may hold U+0000 (PostgreSQL JSONB refuses it) or lone surrogates (no database
    can encode them as UTF-8). Replace both with U+FFFD; everything else is stored exactly as received."""
    if not _UNSTORABLE.search(json.dumps(data)):
        return data
    return _scrub(data)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return "".join("\ufffd" if ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def event_row(event: Event, *, project_id: str | None, recorded_at: datetime,
              idempotency_key: str | None, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "org_id": event.org_id,
        "project_id": project_id,
        "stream_id": event.incident_id,
        "stream_version": event.version,
        "type": event.type_name,
        "data": json_safe(event.payload()),
        "metadata": {**meta, "schema_version": event.schema_version},
        "idempotency_key": idempotency_key,
        "occurred_at": event.occurred_at,
        "recorded_at": recorded_at,
        "actor": event.actor,
    }


def row_event(row: Any) -> Event:
    """The stored event in today's shape: rows without a schema version predate versions (v1)."""
    meta = dict(row.metadata or {})
    schema_version = int(meta.pop("schema_version", FIRST_VERSION))
    meta["position"] = row.position
    return event_from_record(
        type_name=row.type, data=row.data, org_id=row.org_id, incident_id=row.stream_id,
        version=row.stream_version, occurred_at=utc(row.occurred_at), actor=row.actor, meta=meta,
        schema_version=schema_version,
    )


def incident_row(state: IncidentState) -> dict[str, Any]:
    return {
        "id": state.incident_id,
        "org_id": state.org_id,
        "project_id": state.project_id,
        "number": state.number,
        "title": state.title,
        "status": state.status.value,
        "severity": state.severity.value,
        "commander": state.commander,
        "version": state.version,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "state": state.to_dict(),
    }


def row_state(row: Any) -> IncidentState:
    return IncidentState.from_dict(row.state)
