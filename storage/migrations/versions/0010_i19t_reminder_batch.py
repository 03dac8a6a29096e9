"""batched reminder look: one statement reads a batch's due incidents, one writes what fired and the next looks

Revision ID: 0010_i19t
Revises: 0009_i15ob
Create Date: 2026-12-06

The reminder tick looked at each due incident with five statements (scope, incident, recent events, the
reminder's outbox row, the index row): 2.7 s when 1,000 incidents fell due at once. These two functions
take a whole batch of orgs:

- revenant_reminder_read(looks, types, recent): for each {"org", "ids"} of `looks`, the org's incidents
  among ids with their latest `recent` events of `types` (one row per event; event columns NULL for an
  incident without any);
- revenant_reminder_write(plans, now): for each {"org", "messages", "looks"}, the outbox rows (unique
  (org_id, key): a slot fires once) and each incident's next look (deleted when null), written only where
  the index row's seq is still the one read. Returns the (org, key) of the rows written now.

Both are SECURITY INVOKER: before each org's statement they bind the transaction to that org
(`set_config('app.org_id', org, true)`, as the application does), so row-level security applies to every
row read or written exactly as it does to the application's own statements.

Auto-resolve now reads the index too (an all-clear incident is looked at when its project's
auto_resolve_after passes), so every open incident must be in it. 0009_i15ob's seed ran as the schema owner,
whom row-level security shows no rows on PostgreSQL unless it is a superuser; this seeds again what that seed
meant to (open incidents, and closed ones whose rooms may still be archived), one org at a time under its scope.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_i19t"
down_revision = "0009_i15ob"
branch_labels = None
depends_on = None


def _per_org(head: str, query: str) -> str:
    """A SECURITY INVOKER function that runs `query` for each {"org", …} item of its first argument, the
    transaction bound to that org first (v_item is the item, v_org its org)."""
    return f"""{head}
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE
  v_item jsonb;
  v_org text;
BEGIN
  FOR v_item IN SELECT value FROM jsonb_array_elements($1) LOOP
    v_org := v_item->>'org';
    PERFORM set_config('app.org_id', v_org, true);
    RETURN QUERY {query};
  END LOOP;
END $$"""


_FUNCTIONS = {
    "revenant_reminder_read(jsonb, text[], integer)": _per_org("""
CREATE OR REPLACE FUNCTION revenant_reminder_read(p_looks jsonb, p_types text[], p_recent integer)
RETURNS TABLE (r_org text, r_incident text, r_state jsonb, r_position bigint, r_version integer, r_type text,
               r_data jsonb, r_metadata jsonb, r_occurred_at timestamptz, r_actor text)""", """
      SELECT i.org_id::text, i.id::text, i.state::jsonb, e.position::bigint, e.stream_version::integer,
             e.type::text, e.data::jsonb, e.metadata::jsonb, e.occurred_at, e.actor::text
      FROM incidents i LEFT JOIN LATERAL (
        SELECT ev.position, ev.stream_version, ev.type, ev.data, ev.metadata, ev.occurred_at, ev.actor
        FROM events ev WHERE ev.org_id = i.org_id AND ev.stream_id = i.id AND ev.type = ANY(p_types)
        ORDER BY ev.stream_version DESC LIMIT p_recent) e ON true
      WHERE i.org_id = v_org AND i.id IN (SELECT jsonb_array_elements_text(v_item->'ids'))
      ORDER BY i.id, e.stream_version"""),
    "revenant_reminder_write(jsonb, timestamptz)": _per_org("""
CREATE OR REPLACE FUNCTION revenant_reminder_write(p_plans jsonb, p_now timestamptz)
RETURNS TABLE (r_org text, r_key text)""", """
      WITH fired AS (
        INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts)
        SELECT v_org, m.topic, m.key, m.payload, p_now, p_now, 0
        FROM jsonb_to_recordset(v_item->'messages') AS m(topic text, key text, payload jsonb)
        ON CONFLICT (org_id, key) DO NOTHING RETURNING outbox.key
      ), looks AS (
        SELECT * FROM jsonb_to_recordset(v_item->'looks') AS v(incident_id text, seq integer, due_at timestamptz)
      ), gone AS (
        DELETE FROM reminder_due d USING looks v WHERE d.org_id = v_org AND d.incident_id = v.incident_id
          AND d.seq = v.seq AND v.due_at IS NULL
      ), moved AS (
        UPDATE reminder_due d SET due_at = v.due_at FROM looks v WHERE d.org_id = v_org
          AND d.incident_id = v.incident_id AND d.seq = v.seq AND v.due_at IS NOT NULL
      )
      SELECT v_org, fired.key::text FROM fired"""),
}
_SEED = """
DO $$
DECLARE v_org text;
BEGIN
  FOR v_org IN SELECT id FROM organizations LOOP
    PERFORM set_config('app.org_id', v_org, true);
    INSERT INTO reminder_due (org_id, incident_id, due_at)
      SELECT org_id, id, updated_at FROM incidents WHERE org_id = v_org
        AND (status <> 'closed' OR updated_at >= now() - interval '31 days')  -- 0009_i15ob's SEED_CLOSED_DAYS
      ON CONFLICT (org_id, incident_id) DO NOTHING;
  END LOOP;
  PERFORM set_config('app.org_id', '', true);
END $$"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite runs the same reads and writes as statements (storage/reminder_look.py)
    role = op.get_context().config.attributes.get("app_role", "revenant_app")
    for signature, body in _FUNCTIONS.items():
        bind.execute(sa.text(body))
        bind.execute(sa.text(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC"))
        bind.execute(sa.text(f"GRANT EXECUTE ON FUNCTION {signature} TO {role}"))
    bind.execute(sa.text(_SEED))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for signature in _FUNCTIONS:
            bind.execute(sa.text(f"DROP FUNCTION IF EXISTS {signature}"))
