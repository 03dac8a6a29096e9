"""Outbox retention on a large table (benchmark, not a test): `revenant outbox prune`'s storage path on PostgreSQL.

    .venv/bin/python bench/outbox_prune.py [--messages 200000] [--orgs 4] [--subscribers 3] [--batch 500]
                                           [--no-index] [--seconds 600]

Fills a scratch database (as its owner, INSERT … SELECT) with --messages delivered outbox messages spread over
--orgs orgs (round robin), --subscribers delivery records each, delivered evenly over the last 61 days in id order
(as a real outbox is: ~77 % older than 14 days), and one in 50 of the old ones keeps a dead delivery (the recent ones
and those must stay). Then:

1. how long a plain CREATE INDEX of ix_outbox_deliveries_message takes on the filled table (the migration's, during
   which writes to outbox_deliveries wait), and the cost of writing delivery records with and without ix_outbox_deliveries_message (migration 0016_retention):
   EXPLAIN (ANALYZE, BUFFERS, WAL) of one INSERT of 20,000 records into a copy of the table, each way: buffers
   touched and WAL bytes per record are deterministic, unlike time on a shared machine;
2. the prune itself (storage/outbox_retention.py, the app role, one org after another) with progress lines, then
   messages and delivery records deleted per second of wall clock, and CPU per 1,000 messages of this process
   and of the database's PostgreSQL backends (from /proc). With --no-index the index is dropped first: what
   pruning cost before it (every deleted message's cascade scans outbox_deliveries; use fewer --messages, and
   --seconds stops the prune between batches).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.common import say, scratch_database  # noqa: E402
from bench.ingest import backends_cpu, backends_delta, cpu_seconds  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.outbox_retention import Pruned, SqlOutboxRetention, cutoff  # noqa: E402

INDEX = "ix_outbox_deliveries_message"
_FILL_OUTBOX = """
INSERT INTO outbox (org_id, topic, key, payload, created_at, available_at, attempts, delivered_at)
SELECT 'bench-org-' || (n % CAST(:orgs AS int)), 'incident.changed', 'changed:bench:' || n, '{"incident_id": "INC-1"}',
       d, d, 1, d
FROM (SELECT n, now() - interval '61 days' + n * interval '60 days' / CAST(:total AS bigint) AS d
      FROM generate_series(CAST(:start AS bigint), CAST(:stop AS bigint)) AS n) AS s
"""
_FILL_DELIVERIES = """
INSERT INTO outbox_deliveries (org_id, message_id, subscriber, state, attempts, available_at, updated_at)
SELECT o.org_id, o.id, 'Subscriber' || s, CASE WHEN s = 0 AND o.id % 50 = 1 AND o.delivered_at < now() - interval '14 days' THEN 'dead'
                                               ELSE 'delivered' END, 1, o.delivered_at, o.delivered_at
FROM outbox o CROSS JOIN generate_series(0, CAST(:subs AS int) - 1) AS s WHERE o.id BETWEEN CAST(:lo AS bigint) AND CAST(:hi AS bigint)
"""


def fill(owner: sa.Engine, messages: int, orgs: int, subscribers: int) -> None:
    """The orgs, then messages and their delivery records in chunks of 50,000 (progress on stderr)."""
    with owner.begin() as conn:
        for n in range(orgs):
            conn.execute(sa.text("INSERT INTO organizations (id, name, default_role, incident_seq, settings, "
                                 "created_at) VALUES (:id, :id, 'responder', 0, '{}', now())"), {"id": f"bench-org-{n}"})
    chunk = 50_000
    for start in range(1, messages + 1, chunk):
        stop = min(start + chunk - 1, messages)
        with owner.begin() as conn:
            lo = conn.execute(sa.text("SELECT coalesce(max(id), 0) + 1 FROM outbox")).scalar()
            conn.execute(sa.text(_FILL_OUTBOX), {"orgs": orgs, "start": start, "stop": stop, "total": messages})
            conn.execute(sa.text(_FILL_DELIVERIES), {"subs": subscribers, "lo": lo, "hi": lo + chunk})
        say(f"  filled {stop:,} messages")
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE outbox"))
        conn.execute(sa.text("VACUUM ANALYZE outbox_deliveries"))


def write_cost(owner: sa.Engine, rows: int = 20_000) -> dict[str, dict[str, float]]:
    """Buffers touched and WAL bytes per delivery record inserted, into a copy of the table with and without the
    index (the copy has the table's other indexes and no foreign keys: the difference is the index's)."""
    out: dict[str, dict[str, float]] = {}
    for label, with_index in (("without the index", False), ("with the index", True)):
        with owner.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS bench_deliveries"))
            conn.execute(sa.text("CREATE TABLE bench_deliveries (LIKE outbox_deliveries INCLUDING INDEXES)"))
            if not with_index:
                names = conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'bench_deliveries' "
                                             "AND indexdef LIKE '%(message_id)'")).scalars().all()
                for name in names:
                    conn.execute(sa.text(f'DROP INDEX "{name}"'))
            conn.execute(sa.text("INSERT INTO bench_deliveries SELECT * FROM outbox_deliveries"))
            conn.execute(sa.text("ANALYZE bench_deliveries"))
        with owner.begin() as conn:
            plan = conn.execute(sa.text(
                "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) INSERT INTO bench_deliveries "
                "SELECT 'bench-org-0', 10000000 + n, 'New', 'delivered', 1, now(), now(), NULL "
                "FROM generate_series(1, CAST(:n AS int)) AS n"), {"n": rows}).scalar()
            top = plan[0]["Plan"]
            out[label] = {"buffers": (top["Shared Hit Blocks"] + top["Shared Read Blocks"]) / rows,
                          "dirtied": top["Shared Dirtied Blocks"] / rows, "wal_bytes": top["WAL Bytes"] / rows}
    with owner.begin() as conn:
        conn.execute(sa.text("DROP TABLE bench_deliveries"))
    return out


def sizes(owner: sa.Engine) -> str:
    """The two tables' sizes with their indexes, and the server's shared_buffers."""
    with owner.connect() as conn:
        row = conn.execute(sa.text("SELECT pg_size_pretty(pg_total_relation_size('outbox')), "
                                   "pg_size_pretty(pg_total_relation_size('outbox_deliveries')), "
                                   "current_setting('shared_buffers')")).one()
    return f"outbox {row[0]}, outbox_deliveries {row[1]} (with indexes); shared_buffers {row[2]}"


def counts(owner: sa.Engine) -> tuple[int, int]:
    with owner.connect() as conn:
        return (int(conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar() or 0),
                int(conn.execute(sa.text("SELECT count(*) FROM outbox_deliveries")).scalar() or 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--orgs", type=int, default=4)
    parser.add_argument("--subscribers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--no-index", action="store_true", help="drop ix_outbox_deliveries_message before pruning")
    parser.add_argument("--seconds", type=float, default=600, help="stop the prune (between batches) after this")
    args = parser.parse_args()
    with scratch_database("revenant_bench_prune") as url:
        owner = make_engine(url, app_role=None)
        say(f"filling {args.messages:,} messages × {args.subscribers} delivery records, {args.orgs} orgs …")
        fill(owner, args.messages, args.orgs, args.subscribers)
        before_rows, size = counts(owner), sizes(owner)
        with owner.begin() as conn:  # what migration 0016_retention does to this table (writes wait meanwhile)
            conn.execute(sa.text(f"DROP INDEX {INDEX}"))
            built = time.monotonic()
            conn.execute(sa.text(f"CREATE INDEX {INDEX} ON outbox_deliveries (message_id)"))
            built = time.monotonic() - built
        say("writing delivery records (EXPLAIN ANALYZE, 20,000 rows) …")
        cost = write_cost(owner)
        if args.no_index:
            with owner.begin() as conn:
                conn.execute(sa.text(f"DROP INDEX {INDEX}"))
        app = make_engine(url)  # the app role: row-level security applies, as in `revenant outbox prune`
        retention = SqlOutboxRetention(app, batch=args.batch)
        before = cutoff(14)
        orgs = [f"bench-org-{n}" for n in range(args.orgs)]
        expected = sum(retention.count(org, before=before).messages for org in orgs)
        say(f"pruning {expected:,} prunable messages (batches of {args.batch}) …")
        deadline = time.monotonic() + args.seconds

        latest: dict[str, Pruned] = {}

        def progress(p: Pruned) -> None:
            latest[p.org_id] = p
            if p.batches % 20 == 0:
                say(f"  {p.org_id}: {p.messages:,} messages, {p.deliveries:,} delivery records so far")

        backends = backends_cpu(url)
        cpu0, wall0 = cpu_seconds(os.getpid()), time.monotonic()
        failed = None
        try:
            done = retention.prune(orgs, before=before, progress=progress,
                                   stopping=lambda: time.monotonic() > deadline)
        except Exception as exc:  # noqa: BLE001 — without the index a batch can outlast the statement timeout
            failed, done = f"a batch failed: {type(exc).__name__}", list(latest.values())
        wall = time.monotonic() - wall0
        cpu = cpu_seconds(os.getpid()) - cpu0
        pg_cpu = backends_delta(backends, backends_cpu(url))
        messages, deliveries = sum(p.messages for p in done), sum(p.deliveries for p in done)
        after_rows = counts(owner)
        app.dispose()
        owner.dispose()
    print(f"\n{args.messages:,} messages and {before_rows[1]:,} delivery records; {expected:,} messages prunable "
          f"(older than 14 days, no dead delivery); index {'dropped' if args.no_index else 'present'}\n{size}; "
          f"building the index (CREATE INDEX, as migration 0016_retention does) took {built:.1f} s\n")
    print("| writing a delivery record | buffers touched | buffers dirtied | WAL bytes |")
    print("|---|---|---|---|")
    for label, c in cost.items():
        print(f"| {label} | {c['buffers']:.2f} | {c['dirtied']:.3f} | {c['wal_bytes']:.0f} |")
    per = messages / 1000 or float("nan")
    print("\n| prune | value |\n|---|---|")
    print(f"| messages / delivery records deleted | {messages:,} / {deliveries:,} "
          f"({'all' if messages == expected else failed or 'stopped at --seconds'}) |")
    print(f"| left: messages / delivery records | {after_rows[0]:,} / {after_rows[1]:,} |")
    print(f"| wall clock s, messages per s | {wall:.1f}, {messages / wall if wall else 0:,.0f} |")
    print(f"| CPU ms per 1,000 messages, this process / PostgreSQL backends | {cpu * 1000 / per:.0f} / "
          f"{pg_cpu * 1000 / per:.0f} |")


if __name__ == "__main__":
    main()
