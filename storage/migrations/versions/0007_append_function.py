"""append function: events, the projection row and outbox rows written by one server-side call

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

`revenant_append` does what storage/pg_append.py used to send as one large statement of
data-modifying CTEs. As a PL/pgSQL function its statements are planned once per session and run
in order, so an append is one short call; the client can send it with its COMMIT in one round
trip. A stale expected version raises serialization_failure (SQLSTATE 40001) inside the call, so
nothing of it is written and the unit of work turns it into ConcurrencyConflict. It runs with the
caller's rights (SECURITY INVOKER): row-level security applies to every row it writes, and the
caller binds app.org_id first, as for any other statement. A migration that changes the columns
of events, incidents or outbox must replace this function too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PROJECTION = ("id, org_id, project_id, number, title, status, severity, commander, version, created_at, "
               "updated_at, state")

_FUNCTION = f"""
CREATE OR REPLACE FUNCTION revenant_append(p_org text, p_incident text, p_expected integer,
                                           p_events jsonb, p_projection jsonb, p_outbox jsonb)
RETURNS void LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
  written integer;
BEGIN
  INSERT INTO events (org_id, project_id, stream_id, stream_version, type, data, metadata, idempotency_key,
                      occurred_at, recorded_at, actor)
  SELECT * FROM jsonb_to_recordset(p_events) AS x(
    org_id text, project_id text, stream_id text, stream_version int, type text, data jsonb, metadata jsonb,
    idempotency_key text, occurred_at timestamptz, recorded_at timestamptz, actor text);
  IF p_expected = 0 THEN
    INSERT INTO incidents ({_PROJECTION})
    SELECT {_PROJECTION} FROM jsonb_populate_record(null::incidents, p_projection);
  ELSE
    UPDATE incidents AS i SET ({_PROJECTION}) =
      (SELECT {_PROJECTION} FROM jsonb_populate_record(null::incidents, p_projection))
    WHERE i.id = p_incident AND i.org_id = p_org AND i.version = p_expected;
    GET DIAGNOSTICS written = ROW_COUNT;
    IF written <> 1 THEN
      RAISE EXCEPTION 'stale expected version % for incident %: it changed concurrently', p_expected, p_incident
        USING ERRCODE = 'serialization_failure';
    END IF;
  END IF;
  INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts)
  SELECT x.*, 0 FROM jsonb_to_recordset(p_outbox) AS x(
    org_id text, topic text, key text, payload jsonb, created_at timestamptz, available_at timestamptz);
END $$"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text(_FUNCTION))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("DROP FUNCTION IF EXISTS revenant_append(text, text, integer, jsonb, jsonb, jsonb)"))
