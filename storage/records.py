"""Translate between domain events/state and table rows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from incident_core.event_schema import FIRST_VERSION
from incident_core.events import Event, event_from_record
from incident_core.state import IncidentState

# Parts of the state kept out of its document, in tables of their own (storage/state_read.py). The correlation
# keys stay in it too (incident_keys mirrors them): joining ~200 key rows into every candidate's read cost more
# than writing them (docs/benchmarks.md, ingest).
TAIL_FIELDS = ("recent_signals", "metric_points", "log_lines")


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_UNSTORABLE = re.compile(r"\\u0000|\\ud[89a-f][0-9a-f]{2}", re.I)


# orjson writes a NUL as \u0000 and refuses a lone surrogate; datetimes and dataclasses, which json.dumps refuses,
# go to the fallback (no `default`), so they fail as before.
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_safe(data: Any) -> Any:
    """Raw webhook payloads may hold U+0000 (PostgreSQL JSONB refuses it) or lone surrogates (no database
    can encode them as UTF-8). Replace both with U+FFFD; everything else is stored exactly as received.

    The usual value is checked by one orjson pass (a few µs for an event's data); whatever orjson refuses (a
    surrogate, a 65-bit integer, a type JSON has not) takes the json.dumps check, which decides as before."""
    try:
        if b"\\u0000" not in orjson.dumps(data, option=_ORJSON):
            return data
    except TypeError:
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
        "state": {k: v for k, v in state.to_dict().items() if k not in TAIL_FIELDS},
    }
