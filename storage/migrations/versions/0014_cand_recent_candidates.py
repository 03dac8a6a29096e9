"""signal ingest: per key, only the open incidents that saw it last (a bounded candidate lookup)

Revision ID: 0014_cand
Revises: 0013_outbox
Create Date: 2026-12-07

The candidate lookup returned every open incident holding any key of a batch, with all its hit keys: keys
that every open incident of a project shares (the sender group, the alert name, the namespace) made it read
hundreds of `incident_keys` rows per signal. Correlation only ever needs, per key, the few holders that rank
first by their last signal (incident_core/candidates.py says why, and what to do when that is not certain).

`ix_incident_keys_recent` (org_id, key, project_id, last_seen_at) replaces `ix_incident_keys_lookup` (org_id, key),
whose lookups it serves as well: a probe per key walks it backwards from the newest row and stops after `p_top`
open holders. It is the only index with last_seen_at, so an upserted key is no longer a HOT update.

`revenant_lock_recent_candidates` replaces `revenant_lock_candidates` (0012_batch) with the same lock semantics:
it binds the org, takes the batch's key locks in sorted order (the hash `SqlTransaction.lock_keys` uses), and
only then reads, in a statement of its own (a fresh snapshot after the locks). It answers:
- one row per incident a probe found, with its hits among all of `p_keys` and their latest last_seen_at (exactly
  what the unbounded lookup answers for that incident): the rows the probes returned, and a primary-key lookup
  for each key whose probe was cut and did not return that incident (a probe that was not cut returned every
  open holder of its key, so it says which of them hold it);
- one row per key whose probe stopped at `p_top` (out_id NULL, out_keys = {key}, out_last = the last_seen_at of
  its last row returned): an open holder not returned saw that key no later than that.
The query's shape holds its plan before ANALYZE has seen the tables (row-level security on, generic plan):
- each probe is two branches, one per project form, so that the project is an index equality in both (an
  `IS NULL` column still orders the scan when the ORDER BY names it; `coalesce(project_id, '')` would not be an
  index condition under row-level security, which treats the expression as leaky);
- an incident's status is a scalar subquery per row probed, so the LIMIT counts open holders, in index order;
- each lookup is a scalar subquery on (incident_id, key), so no planner guess reads the org's keys instead, and
  each incident found is read by its id (a LATERAL … LIMIT 1, never a hash join over the org's incidents).
The same query runs on SQLite (storage/candidate_probe.py). tests/storage/test_bounded_candidates.py checks the
plans, and that the bounded lookup decides every signal as the unbounded one does.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0014_cand"
down_revision = "0013_outbox"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION revenant_lock_recent_candidates(
    p_org text, p_locks text[], p_keys text[], p_project text, p_top integer, p_open text[])
RETURNS TABLE (out_id text, out_keys text[], out_last timestamptz, out_number integer,
               out_created timestamptz, out_version integer)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.org_id', p_org, true);
    PERFORM count(pg_advisory_xact_lock(hashtextextended(k, 0)))
        FROM (SELECT unnest(p_locks) AS k ORDER BY 1) AS ordered;
    RETURN QUERY
    WITH probe AS (
        SELECT a.key, p.incident_id, p.last_seen_at
        FROM unnest(p_keys) AS a(key)
        CROSS JOIN LATERAL (
            (SELECT c.incident_id, c.last_seen_at FROM incident_keys AS c
             WHERE c.org_id = p_org AND c.key = a.key AND c.project_id = p_project
               AND (SELECT i.status FROM incidents AS i WHERE i.id = c.incident_id AND i.org_id = p_org) = ANY (p_open)
             ORDER BY c.project_id DESC, c.last_seen_at DESC
             LIMIT p_top)
            UNION ALL
            (SELECT c.incident_id, c.last_seen_at FROM incident_keys AS c
             WHERE p_project IS NULL AND c.org_id = p_org AND c.key = a.key AND c.project_id IS NULL
               AND (SELECT i.status FROM incidents AS i WHERE i.id = c.incident_id AND i.org_id = p_org) = ANY (p_open)
             ORDER BY c.project_id DESC, c.last_seen_at DESC
             LIMIT p_top)) AS p),
    cut AS (
        SELECT b.key, min(b.last_seen_at) AS edge FROM probe AS b GROUP BY b.key HAVING count(*) >= p_top),
    hits AS (
        SELECT b.incident_id, b.key, b.last_seen_at FROM probe AS b
        UNION ALL
        SELECT f.incident_id, c.key, (SELECT k.last_seen_at FROM incident_keys AS k
                                      WHERE k.incident_id = f.incident_id AND k.key = c.key
                                        AND k.project_id IS NOT DISTINCT FROM p_project)
        FROM (SELECT DISTINCT b.incident_id FROM probe AS b) AS f CROSS JOIN cut AS c
        WHERE NOT EXISTS (SELECT 1 FROM probe AS b WHERE b.incident_id = f.incident_id AND b.key = c.key))
    SELECT g.incident_id::text, g.hit_keys::text[], g.last, i.number, i.created_at, i.version
    FROM (SELECT h.incident_id, array_agg(h.key) FILTER (WHERE h.last_seen_at IS NOT NULL) AS hit_keys,
                 max(h.last_seen_at) AS last
          FROM hits AS h GROUP BY h.incident_id) AS g
    CROSS JOIN LATERAL (
        SELECT n.number, n.created_at, n.version FROM incidents AS n
        WHERE n.id = g.incident_id AND n.org_id = p_org
        LIMIT 1) AS i
    UNION ALL
    SELECT NULL::text, ARRAY[c.key]::text[], c.edge, NULL::integer, NULL::timestamptz, NULL::integer
    FROM cut AS c;
END
$$
"""


def upgrade() -> None:
    op.create_index("ix_incident_keys_recent", "incident_keys",
                    ["org_id", "key", "project_id", "last_seen_at"])
    op.drop_index("ix_incident_keys_lookup", table_name="incident_keys")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS revenant_lock_candidates(text, text[], text[], text, timestamptz, text[])")
        op.execute(FUNCTION)


def downgrade() -> None:
    op.create_index("ix_incident_keys_lookup", "incident_keys", ["org_id", "key"])
    op.drop_index("ix_incident_keys_recent", table_name="incident_keys")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS revenant_lock_recent_candidates(text, text[], text[], text, integer, text[])")
        op.execute(_previous_function())


def _previous_function() -> str:
    """0012_batch's revenant_lock_candidates, as that migration created it."""
    spec = importlib.util.spec_from_file_location("migration_0012_batch", Path(__file__).with_name(
        "0012_batch_lock_candidates.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.FUNCTION)
