"""signal rows: recent signals, metric points and log lines appended and capped by SQL; raw payloads once

Revision ID: 0010_i18s
Revises: 0009_i18
Create Date: 2026-12-06

Attaching a signal used to rewrite the incident's whole state document, which carried its last 10
signals, 60 metric points, 20 log lines and 200 correlation keys. Those now live in rows of their own
(`incident_recent_signals`, `incident_metric_points`, `incident_log_lines`; the keys were already
mirrored in `incident_keys`), which an append inserts, updates and trims; a read joins them back
(storage/state_read.py). This moves the parts out of existing documents and installs the
`revenant_append` that writes the new rows (storage/append_rules.py).

`raw_payloads` holds each delivery's body once; new signal events carry a `raw_ref` (payload id and JSON
pointer) instead of a copy of their raw item. Events written before keep their inline `raw`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from incident_core.state import IncidentState
from storage.append_rules import install_append_function
from storage.engine import scope_to_org
from storage.raw_payloads import RAW_PAYLOAD_TENANT_TABLES
from storage.records import TAIL_FIELDS
from storage.rls import enable_rls, grant_app_role
from storage.signal_tail import POINT_SLOTS
from storage.signal_tail_tables import SIGNAL_TAIL_TENANT_TABLES
from storage.state_read import BRIEF_FIELDS, INCIDENTS, row_state, state_columns
from storage.tables import JSONType

revision = "0010_i18s"
down_revision = "0009_i18"
branch_labels = None
depends_on = None

_INCIDENTS = sa.table("incidents", sa.column("id", sa.String), sa.column("org_id", sa.String),
                      sa.column("state", JSONType))


def _owner() -> list[sa.Column]:
    return [sa.Column("incident_id", sa.String(64), nullable=False),
            sa.Column("org_id", sa.String(64), sa.ForeignKey("organizations.id"), nullable=False)]


def upgrade() -> None:
    op.create_table("incident_recent_signals", *_owner(), sa.Column("seq", sa.Integer, nullable=False),
                    *[sa.Column(c, sa.Text, nullable=c != "at") for c in BRIEF_FIELDS],
                    sa.PrimaryKeyConstraint("incident_id", "seq"))
    op.create_table("incident_metric_points", *_owner(), sa.Column("seq", sa.BigInteger, nullable=False),
                    sa.Column("at", sa.Text, nullable=False), sa.Column("name", sa.Text, nullable=False),
                    sa.Column("value", sa.Float, nullable=False), sa.PrimaryKeyConstraint("incident_id", "seq"))
    op.create_table("incident_log_lines", *_owner(), sa.Column("line", sa.Text, nullable=False),
                    sa.Column("count", sa.Integer, nullable=False), sa.PrimaryKeyConstraint("incident_id", "line"))
    op.create_table("raw_payloads",
                    sa.Column("org_id", sa.String(64), sa.ForeignKey("organizations.id"), nullable=False),
                    sa.Column("id", sa.String(64), nullable=False), sa.Column("payload", JSONType, nullable=False),
                    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("org_id", "id"))
    bind = op.get_bind()
    _move_tails_out(bind)
    install_append_function(bind)
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    grant_app_role(bind, role)
    enable_rls(bind, role, (*SIGNAL_TAIL_TENANT_TABLES, *RAW_PAYLOAD_TENANT_TABLES))


def _move_tails_out(bind: Any) -> None:
    """Existing documents: their tail becomes rows (ordinals continue from the signal count), then leaves."""
    tables = {name: sa.table(name, *[sa.column(c) for c in cols]) for name, cols in (
        ("incident_recent_signals", ("incident_id", "org_id", "seq", *BRIEF_FIELDS)),
        ("incident_metric_points", ("incident_id", "org_id", "seq", "at", "name", "value")),
        ("incident_log_lines", ("incident_id", "org_id", "line", "count")))}
    for org in bind.execute(sa.text("SELECT id FROM organizations ORDER BY id")).scalars().all():
        # Row-level security is FORCEd on incidents: an owner that is not a superuser sees an org's rows only
        # inside its scope (an unscoped read saw none and moved nothing). The scope is transaction-local.
        scope_to_org(bind, org)
        _move_org_tails_out(bind, tables, org)
    scope_to_org(bind, "")


def _move_org_tails_out(bind: Any, tables: dict[str, sa.TableClause], org: str) -> None:
    """One org's documents (see _move_tails_out)."""
    rows = bind.execute(sa.select(_INCIDENTS.c.id, _INCIDENTS.c.org_id, _INCIDENTS.c.state)
                        .where(_INCIDENTS.c.org_id == org)).all()
    for incident_id, org_id, doc in rows:
        if not any(f in doc for f in TAIL_FIELDS):
            continue
        owner = {"incident_id": incident_id, "org_id": org_id}
        count = int(doc.get("signal_count") or 0)
        recent = list(doc.get("recent_signals") or ())
        top = max(count, len(recent))
        if recent:
            bind.execute(tables["incident_recent_signals"].insert(), [
                {**owner, "seq": top - len(recent) + 1 + i, **{f: r.get(f) for f in BRIEF_FIELDS}}
                for i, r in enumerate(recent)])
        points = list(doc.get("metric_points") or ())
        if points:
            base = max(count, 1) * POINT_SLOTS + POINT_SLOTS - len(points)
            bind.execute(tables["incident_metric_points"].insert(), [
                {**owner, "seq": base + j, "at": p[0], "name": p[1], "value": float(p[2])} for j, p in enumerate(points)])
        logs = dict(doc.get("log_lines") or {})
        if logs:
            bind.execute(tables["incident_log_lines"].insert(),
                         [{**owner, "line": line, "count": n} for line, n in logs.items()])
        bind.execute(_INCIDENTS.update().where(_INCIDENTS.c.id == incident_id)
                     .values(state={k: v for k, v in doc.items() if k not in TAIL_FIELDS}))


def downgrade() -> None:
    """Documents get their tail back; revenant_append must then be installed by the older code's migration."""
    bind = op.get_bind()
    for row in bind.execute(sa.select(INCIDENTS.c.id, *state_columns())).all():
        state: IncidentState = row_state(row)
        bind.execute(_INCIDENTS.update().where(_INCIDENTS.c.id == row.id).values(state=state.to_dict()))
    for table in (*SIGNAL_TAIL_TENANT_TABLES, *RAW_PAYLOAD_TENANT_TABLES):
        op.drop_table(table)
