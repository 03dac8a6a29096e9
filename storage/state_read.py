"""Reading an incident's state: its document joined with its signal tail, in the same statement.

The `incidents.state` document no longer holds the lists that changed with every signal: recent signals,
metric points and log lines live in storage/signal_tail_tables.py. `state_columns()` selects the document
and each part as one correlated JSON aggregate (one row per incident, one round trip); `row_state` puts
them back together. (Correlation keys stay in the document, mirrored in `incident_keys`: see records.py.)
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from incident_core.state import IncidentState
from storage.records import TAIL_FIELDS
from storage.signal_tail_tables import LogLineRow, MetricPointRow, RecentSignalRow
from storage.tables import IncidentRow

INCIDENTS = IncidentRow.__table__  # type: ignore[attr-defined]
RECENT = RecentSignalRow.__table__  # type: ignore[attr-defined]
POINTS = MetricPointRow.__table__  # type: ignore[attr-defined]
LOGS = LogLineRow.__table__  # type: ignore[attr-defined]

BRIEF_FIELDS = ("source", "kind", "status", "severity", "title", "service", "fingerprint", "at")


def _sql_function(name: str, sqlite: str, postgresql: str) -> Any:
    """A SQL function element compiled from a template per dialect (`{}` receives its arguments)."""
    element = type(name, (FunctionElement,), {"name": name, "inherit_cache": True})

    def render(template: str) -> Any:
        return lambda e, compiler, **kw: template.format(compiler.process(e.clauses, **kw))

    compiles(element)(render(sqlite))
    compiles(element, "postgresql")(render(postgresql))
    return element


# One JSON array per aggregated row, in no order (the reader sorts).
json_rows = _sql_function("json_rows", "json_group_array(json_array({}))", "jsonb_agg(jsonb_build_array({}))")
# A float that survives JSON exactly: SQLite's json functions keep only 15 significant digits, while
# PostgreSQL's float8 → jsonb keeps the shortest exact form.
exact_float = _sql_function("exact_float", "printf('%!.17g', {})", "{}")


def _tail(table: sa.Table, *columns: str) -> Any:
    values = [exact_float(table.c[c]) if isinstance(table.c[c].type, sa.Float) else table.c[c] for c in columns]
    return (sa.select(json_rows(*values))
            .where(table.c.incident_id == INCIDENTS.c.id, table.c.org_id == INCIDENTS.c.org_id)
            .scalar_subquery())


def state_columns() -> list[Any]:
    """The columns `row_state` reads: the state document and its tail, for a select over `incidents`."""
    return [INCIDENTS.c.state,
            _tail(RECENT, "seq", *BRIEF_FIELDS).label("tail_recent"),
            _tail(POINTS, "seq", "at", "name", "value").label("tail_points"),
            _tail(LOGS, "line", "count").label("tail_logs")]


def _rows(value: Any) -> list[list[Any]]:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value or ())


def assemble(document: dict[str, Any], recent: Any, points: Any, logs: Any) -> IncidentState:
    """The state from its document and the three tail aggregates of `state_columns()`."""
    doc = {k: v for k, v in document.items() if k not in TAIL_FIELDS}
    doc["recent_signals"] = [dict(zip(BRIEF_FIELDS, r[1:], strict=True)) for r in sorted(_rows(recent))]
    doc["metric_points"] = [(at, name, float(value)) for _, at, name, value in sorted(_rows(points))]
    doc["log_lines"] = dict(sorted(((line, int(n)) for line, n in _rows(logs)), key=lambda kv: (-kv[1], kv[0])))
    return IncidentState.from_dict(doc)


def row_state(row: Any) -> IncidentState:
    """The state of a row selected with `state_columns()`."""
    return assemble(row.state, row.tail_recent, row.tail_points, row.tail_logs)
