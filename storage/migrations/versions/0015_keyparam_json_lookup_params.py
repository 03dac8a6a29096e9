"""signal ingest: the lock + candidate lookup takes its key lists as JSON text, not arrays

Revision ID: 0015_keyparam
Revises: 0014_cand
Create Date: 2026-12-07

psycopg adapts a list parameter element by element in Python: a batch of single alerts sends ~350 lock names
and keys, and dumping them as `text[]` cost the server ~1 ms of CPU per call, more than the rest of the call.
One JSON array is one string to send (json.dumps runs in C). `revenant_lock_recent_candidates` now takes the
key names (without the org: it names the locks `p_org || ':' || key` itself, the names `SqlTransaction.lock_keys`
hashes), the keys to look up and the open statuses as `json` arrays, unpacks them into arrays once, and then
takes the locks and reads exactly as 0014_cand's function did: the lookup's query is 0014_cand's, its arrays
now local variables (so its plan is the same; tests/storage/test_bounded_candidates.py checks it).
"""

from __future__ import annotations

import runpy
from pathlib import Path

from alembic import op

revision = "0015_keyparam"
down_revision = "0014_cand"
branch_labels = None
depends_on = None

_PREVIOUS_SIGNATURE = "revenant_lock_recent_candidates(text, text[], text[], text, integer, text[])"
SIGNATURE = "revenant_lock_recent_candidates(text, json, json, text, integer, json)"


def _previous_function() -> str:
    """0014_cand's revenant_lock_recent_candidates, as that migration created it."""
    return str(runpy.run_path(str(Path(__file__).with_name("0014_cand_recent_candidates.py")))["FUNCTION"])


def _function() -> str:
    """0014_cand's function with JSON arguments: the same locks, then the same lookup over local arrays."""
    previous = _previous_function()
    query = previous[previous.index("    RETURN QUERY"):previous.index("END\n$$")]
    query = query.replace("p_keys", "v_keys").replace("p_open", "v_open")
    return f"""
CREATE OR REPLACE FUNCTION revenant_lock_recent_candidates(
    p_org text, p_locks json, p_keys json, p_project text, p_top integer, p_open json)
RETURNS TABLE (out_id text, out_keys text[], out_last timestamptz, out_number integer,
               out_created timestamptz, out_version integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_keys text[] := ARRAY(SELECT json_array_elements_text(p_keys));
    v_open text[] := ARRAY(SELECT json_array_elements_text(p_open));
BEGIN
    PERFORM set_config('app.org_id', p_org, true);
    PERFORM count(pg_advisory_xact_lock(hashtextextended(k, 0)))
        FROM (SELECT p_org || ':' || json_array_elements_text(p_locks) AS k ORDER BY 1) AS ordered;
{query}END
$$
"""


FUNCTION = _function()


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {_PREVIOUS_SIGNATURE}")
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
        op.execute(_previous_function())
