"""append function: events, projections and outbox rows written by one server-side call

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

`revenant_append` writes an append's events, the incident projection row, the signal projections
(incident_keys, signals) and the outbox rows, which storage/unit_of_work.py used to send as
several statements. As a PL/pgSQL function its statements are planned once per session and run
in order, so an append is one short call; the client can send it with its COMMIT in one round
trip. A stale expected version raises serialization_failure (SQLSTATE 40001) inside the call, so
nothing of it is written and the unit of work turns it into ConcurrencyConflict. It runs with the
caller's rights (SECURITY INVOKER): row-level security applies to every row it writes, and the
caller binds app.org_id first, as for any other statement. A migration that changes the columns
of events, incidents, incident_keys, signals or outbox must replace this function too; the rows
it writes are those of the SQLite path (storage/signal_projection.py), which tests compare.
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
CREATE OR REPLACE FUNCTION revenant_append(p_org text, p_incident text, p_expected integer, p_events jsonb,
                                           p_projection jsonb, p_outbox jsonb, p_keys jsonb,
                                           p_keys_before timestamptz, p_signals jsonb)
RETURNS void LANGUAGE plpgsql SECURITY INVOKER AS $$
DECLARE
  written integer;
  s record;
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
  IF jsonb_array_length(p_keys) > 0 THEN
    INSERT INTO incident_keys AS k (incident_id, key, org_id, project_id, last_seen_at)
    SELECT * FROM jsonb_to_recordset(p_keys) AS x(
      incident_id text, key text, org_id text, project_id text, last_seen_at timestamptz)
    ON CONFLICT (incident_id, key) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at;
  END IF;
  IF p_keys_before IS NOT NULL THEN
    DELETE FROM incident_keys WHERE incident_id = p_incident AND last_seen_at < p_keys_before;
  END IF;
  FOR s IN SELECT * FROM jsonb_to_recordset(p_signals) AS x(
      org_id text, fingerprint text, incident_id text, source text, title text, status text, severity text,
      service text, first_seen_at timestamptz, last_seen_at timestamptz, deliveries int, last_decision text)
  LOOP
    INSERT INTO signals AS t (org_id, fingerprint, incident_id, source, title, status, severity, service,
                              first_seen_at, last_seen_at, deliveries, last_decision)
    VALUES (s.org_id, s.fingerprint, s.incident_id, s.source, s.title, s.status, s.severity, s.service,
            s.first_seen_at, s.last_seen_at, s.deliveries, s.last_decision)
    ON CONFLICT (org_id, fingerprint) DO UPDATE SET
      incident_id = coalesce(EXCLUDED.incident_id, t.incident_id), status = EXCLUDED.status,
      title = EXCLUDED.title, last_seen_at = EXCLUDED.last_seen_at, deliveries = t.deliveries + 1,
      last_decision = EXCLUDED.last_decision,
      severity = CASE WHEN EXCLUDED.severity <> '' THEN EXCLUDED.severity ELSE t.severity END;
  END LOOP;
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
        bind.execute(sa.text("DROP FUNCTION IF EXISTS revenant_append("
                             "text, text, integer, jsonb, jsonb, jsonb, jsonb, timestamptz, jsonb)"))
