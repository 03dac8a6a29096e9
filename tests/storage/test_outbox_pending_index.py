"""The outbox's claim finds an incident's other undelivered refreshes through ix_outbox_pending_incident
(migration 0013_outbox) instead of reading the org's whole backlog, even before ANALYZE has seen the table; and it
picks the org's oldest due message through ix_outbox_undelivered (0015_delivery), not through delivered history."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from bot.bootstrap import App
from storage.engine import scope_to_org
from storage.outbox import COALESCED_TOPIC
from storage.outbox_pg import CLAIM
from tests.helpers import new_org


def _plan(conn: sa.Connection, sql: str, params: dict[str, object]) -> str:
    return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}", params))


def test_the_claim_finds_an_incidents_refreshes_by_index_in_a_large_backlog(pg_app: App) -> None:
    w = new_org(pg_app)
    with pg_app.engine.begin() as conn:  # a storm's backlog: 20,000 undelivered refreshes of 500 incidents
        scope_to_org(conn, w.org.id)
        conn.execute(sa.text(
            "INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts) "
            "SELECT :o, :t, 'k' || n, json_build_object('incident_id', 'inc-' || (n % 500)), now(), "
            "now() + interval '1 day', 0 FROM generate_series(1, 20000) AS n"), {"o": w.org.id, "t": COALESCED_TOPIC})
    try:
        folded = CLAIM[CLAIM.index("folded AS (") + len("folded AS ("):CLAIM.index("FOR UPDATE OF o")]
        folded = folded.replace("o.id <> l.id", "true").replace(", leased AS l, states AS s", "") \
            .replace("%(coalesce)s AND l.topic = %(topic)s AND NOT s.started", "true") \
            .replace("l.payload ->> 'incident_id'", "%(incident)s") \
            .replace("AND NOT EXISTS (SELECT 1 FROM deferring AS d WHERE d.id = o.id)", "")
        params = {"org": w.org.id, "topic": COALESCED_TOPIC, "incident": "inc-7", "now": "2026-12-06T00:00:00Z"}
        with pg_app.engine.begin() as conn:
            scope_to_org(conn, w.org.id)
            assert "ix_outbox_pending_incident" in _plan(conn, folded, params)
            # and it answers what the filter means: that incident's 40 refreshes
            assert len(conn.exec_driver_sql(folded, params).all()) == 40
    finally:
        with pg_app.engine.begin() as conn:
            scope_to_org(conn, w.org.id)
            conn.execute(sa.text("DELETE FROM outbox WHERE org_id = :o"), {"o": w.org.id})


def test_the_claim_picks_through_the_undelivered_index_past_a_long_delivered_history(pg_app: App) -> None:
    w = new_org(pg_app)
    with pg_app.engine.begin() as conn:  # 20,000 delivered messages ahead of 3 due ones
        scope_to_org(conn, w.org.id)
        conn.execute(sa.text(
            "INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts, delivered_at) "
            "SELECT :o, :t, 'k' || n, json_build_object('incident_id', 'inc-' || (n % 50)), now(), now(), 1, "
            "CASE WHEN n > 20000 THEN NULL ELSE now() END FROM generate_series(1, 20003) AS n"),
            {"o": w.org.id, "t": COALESCED_TOPIC})
    try:
        params = {"org": w.org.id, "owner": "p", "now": datetime.now(UTC), "until": datetime.now(UTC), "coalesce": True,
                  "topic": COALESCED_TOPIC, "settling": "{}"}
        picked = CLAIM[CLAIM.index("picked AS (") + len("picked AS ("):CLAIM.index("), leased AS (")] \
            .replace("NOT EXISTS (SELECT 1 FROM deferring AS d WHERE d.id = m.id)", "true") \
            .replace("m.payload ->> 'incident_id' IN (SELECT d.incident FROM deferring AS d)", "false")  # none settling
        with pg_app.engine.begin() as conn:
            scope_to_org(conn, w.org.id)
            conn.exec_driver_sql("ANALYZE outbox")
            assert "ix_outbox_undelivered" in _plan(conn, picked, params)
        msg = pg_app.outbox.claim(w.org.id, owner="p")
        assert msg is not None and msg.key == "k20001"
    finally:  # the history stays (delivered); a DELETE of 20,000 rows checks outbox_deliveries' key per row
        with pg_app.engine.begin() as conn:
            scope_to_org(conn, w.org.id)
            conn.execute(sa.text("UPDATE outbox SET delivered_at = now(), lease_owner = NULL "
                                 "WHERE org_id = :o AND delivered_at IS NULL"), {"o": w.org.id})
