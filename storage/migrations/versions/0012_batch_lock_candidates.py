"""signal ingest: the key locks and the candidate lookup in one call (PostgreSQL)

Revision ID: 0012_batch
Revises: 0011_i18r
Create Date: 2026-12-06

A batch of signals takes one advisory lock per correlation key, then reads the open incidents holding
those keys. Both were separate round trips. One SQL statement cannot do both: in READ COMMITTED its
snapshot is taken before it waits for the locks, so it could miss an incident another process committed
under a shared key while this one waited (two incidents for one key). Each statement of a PL/pgSQL
function takes a fresh snapshot, so `revenant_lock_candidates` binds the org, takes the locks in the
order `SqlTransaction.lock_keys` takes them (same hash: the two paths exclude each other), and then
reads the candidates exactly as `candidates_statement` does (storage/unit_of_work.py). SECURITY INVOKER:
row-level security applies to the caller, bound to the org by the function's own set_config.
SQLite needs nothing (BEGIN IMMEDIATE serializes writers).
"""

from __future__ import annotations

from alembic import op

revision = "0012_batch"
down_revision = "0011_i18r"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION revenant_lock_candidates(
    p_org text, p_locks text[], p_keys text[], p_project text, p_since timestamptz, p_open text[])
RETURNS TABLE (out_id text, out_keys text[], out_last timestamptz, out_number integer,
               out_created timestamptz, out_version integer)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.org_id', p_org, true);
    PERFORM count(pg_advisory_xact_lock(hashtextextended(k, 0)))
        FROM (SELECT unnest(p_locks) AS k ORDER BY 1) AS ordered;
    RETURN QUERY
    SELECT h.incident_id::text, h.hit_keys::text[], h.last, i.number, i.created_at, i.version
    FROM (SELECT c.incident_id, array_agg(c.key) AS hit_keys, max(c.last_seen_at) AS last
          FROM incident_keys AS c
          WHERE c.org_id = p_org AND c.key = ANY (p_keys)
            AND (c.project_id = p_project OR (p_project IS NULL AND c.project_id IS NULL))
            AND (p_since IS NULL OR c.last_seen_at >= p_since)
          GROUP BY c.incident_id) AS h
    JOIN incidents AS i ON i.id = h.incident_id
    WHERE i.org_id = p_org AND i.status = ANY (p_open);
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS revenant_lock_candidates(text, text[], text[], text, timestamptz, text[])")
