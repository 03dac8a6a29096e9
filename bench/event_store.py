"""Event-store benchmark on PostgreSQL (not a test): appends/s, raw baseline, batches, read p95.

    .venv/bin/python bench/event_store.py [--events 100000] [--incidents 1000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from bench.common import mean, pct, say, scratch_database  # noqa: E402
from incident_core import commands as cmd  # noqa: E402
from incident_core.aggregate import decide  # noqa: E402
from incident_core.state import apply_all  # noqa: E402

NOTE = "checked the connection pool: 198/200 in use, waiting queries piling up on payments-db"


def _app(url: str):  # type: ignore[no-untyped-def]
    from bot.bootstrap import bootstrap
    from bot.settings import Settings

    return bootstrap(Settings(data_dir=Path("/tmp/revenant-bench"), database_url=url), migrate=False)  # type: ignore[call-arg]


def _writer(url: str, org_id: str, incidents: list[str], per_writer: int, ready: mp.Queue, go: object,
            out: mp.Queue) -> None:
    """One writer process: boot, wait for the start signal, append through the real use case."""
    from incident_core import usecases as uc

    app = _app(url)
    ready.put(True)
    go.wait()  # type: ignore[attr-defined]
    for i in range(per_writer):
        uc.apply_command(deps=app.deps, check_role=False, command=cmd.AddNote(
            org_id=org_id, incident_id=incidents[i % len(incidents)], actor="u:bench",
            occurred_at=app.deps.clock.now(), text=NOTE))
    out.put(True)
    app.close()


def appends(url: str, org_id: str, incidents: list[str], total: int, writers: int) -> float:
    """Events/s for `total` single-event appends spread over `writers` processes (boot excluded)."""
    ctx = mp.get_context("spawn")
    ready: mp.Queue = ctx.Queue()
    out: mp.Queue = ctx.Queue()
    go = ctx.Event()
    per = total // writers
    shards = [incidents[i::writers] for i in range(writers)]
    procs = [ctx.Process(target=_writer, args=(url, org_id, shards[i], per, ready, go, out))
             for i in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    started = time.perf_counter()
    go.set()
    for _ in procs:
        out.get()
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return per * writers / elapsed


def raw_baseline(url: str, total: int, table: str) -> float:
    """Single-row INSERT + COMMIT of the same payload through psycopg directly."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    payload = json.dumps({"text": NOTE})
    with psycopg.connect(dsn) as conn:
        conn.execute(f"CREATE TABLE {table} (position bigserial primary key, org_id text, stream_id text, "
                     "stream_version int, type text, data jsonb, occurred_at timestamptz)")
        conn.commit()
        started = time.perf_counter()
        for i in range(total):
            conn.execute(f"INSERT INTO {table} (org_id, stream_id, stream_version, type, data, occurred_at) "
                         "VALUES (%s, %s, %s, %s, %s, now())", ("org", "s", i, "NoteAdded", payload))
            conn.commit()
        return total / (time.perf_counter() - started)


def signal(i: int) -> dict:
    """Signal i of a long stream: alternately an alert, a metric with two points and a log line (one of 30)."""
    kind = ("alert", "metric", "log")[i % 3]
    title = f"db timeout {i % 30}" if kind == "log" else f"checkout p99 high ({i})"
    values = [{"name": "p99", "value": i / 7}, {"name": "p50", "value": i / 11}] if kind == "metric" else []
    return {"source": "generic", "kind": kind, "status": "firing", "severity": "error", "service": "checkout",
            "title": title, "fingerprint": f"fp-{i % 40}", "correlation_keys": [f"fingerprint=fp-{i % 40}",
            "service=checkout"], "starts_at": "2026-12-06T09:00:00+00:00", "values": values, "raw_ref": None}


def batched(app, org_id: str, incident_id: str, total: int, batch: int = 100,  # type: ignore[no-untyped-def]
            signals: bool = False) -> float:
    """Events/s appending `batch` events per transaction to one stream (notes, or signals with --signals)."""
    started = time.perf_counter()
    written = 0
    while written < total:
        with app.deps.uow(org_id) as tx:
            state = tx.load(incident_id)
            events = []
            for n in range(batch):
                c: cmd.Command = cmd.AttachSignal(
                    org_id=org_id, incident_id=incident_id, actor="signal:bench", occurred_at=app.deps.clock.now(),
                    signal=signal(written + n), reason="bench") if signals else cmd.AddNote(
                    org_id=org_id, incident_id=incident_id, actor="u:bench", occurred_at=app.deps.clock.now(),
                    text=NOTE)
                new = decide(state, c)
                state = apply_all(state, new)
                events.extend(new)
            tx.append(events, expected_version=state.version - batch, state=state)
        written += batch
    return written / (time.perf_counter() - started)


def read_p95(app, org_id: str, incident_id: str, n: int = 2000) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        app.queries.get(org_id, incident_id)
        samples.append((time.perf_counter() - t) * 1000)
    return pct(samples, 50), pct(samples, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--raw", type=int, default=10_000, help="rows for the raw psycopg baseline")
    parser.add_argument("--signals", action="store_true",
                        help="grow the long stream with signals (recent signals, metric points, log lines) not notes")
    parser.add_argument("--reads-only", action="store_true", help="skip the append and raw-baseline measures")
    args = parser.parse_args()
    from incident_core import usecases as uc

    with scratch_database("revenant_bench") as url:
        app = _app(url)
        org = app.directory.create_org("bench")
        say(f"declaring {args.incidents} incidents …")
        incidents = [uc.declare_incident(deps=app.deps, org_id=org.id, actor="u:bench", title=f"incident {i}",
                                         check_role=False).state.incident_id for i in range(args.incidents)]
        results: dict[str, float] = {}
        if args.reads_only:
            _reads(app, org.id, args.events, args.signals, results)
            app.close()
            _print(results)
            return
        # The raw baseline runs before and after the appends (disk flush times drift); the faster
        # run is the one the ratio divides by, so the ratio errs low.
        say(f"raw psycopg INSERT+COMMIT x {args.raw} …")
        raw_runs = [raw_baseline(url, args.raw, "raw_before")]
        say(f"  {raw_runs[0]:.0f} rows/s")
        for writers in (1, 4):
            say(f"{args.events} single-event appends with {writers} writer(s) …")
            results[f"appends/s, {writers} writer(s)"] = appends(url, org.id, incidents, args.events, writers)
            say(f"  {results[f'appends/s, {writers} writer(s)']:.0f} events/s")
        say(f"raw psycopg INSERT+COMMIT x {args.raw} again …")
        raw_runs.append(raw_baseline(url, args.raw, "raw_after"))
        say(f"  {raw_runs[1]:.0f} rows/s")
        results["raw psycopg INSERT+COMMIT/s"] = max(raw_runs)
        results["ratio (1 writer / raw)"] = results["appends/s, 1 writer(s)"] / results["raw psycopg INSERT+COMMIT/s"]
        say("batched appends (100 per transaction) …")
        _reads(app, org.id, args.events, args.signals, results)
        app.close()
    _print(results)


def _reads(app, org_id: str, events: int, signals: bool, results: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    from incident_core import usecases as uc

    big = uc.declare_incident(deps=app.deps, org_id=org_id, actor="u:bench", title="long stream",
                              check_role=False).state.incident_id
    results["batched events/s (100/tx)"] = batched(app, org_id, big, 1000, signals=signals)
    p50_1k, p95_1k = read_p95(app, org_id, big)
    say(f"growing one stream to {events} events{' of signals' if signals else ''} …")
    results["batched events/s (100/tx)"] = mean([results["batched events/s (100/tx)"],
                                                 batched(app, org_id, big, events - 1000, signals=signals)])
    p50_100k, p95_100k = read_p95(app, org_id, big)
    results["read state p50 ms @1k events"] = p50_1k
    results["read state p95 ms @1k events"] = p95_1k
    results[f"read state p50 ms @{events // 1000}k events"] = p50_100k
    results[f"read state p95 ms @{events // 1000}k events"] = p95_100k


def _print(results: dict[str, float]) -> None:
    print("\n| measure | value | target |\n|---|---|---|")
    targets = {"ratio (1 writer / raw)": "≥ 0.5", "batched events/s (100/tx)": "≥ 5,000",
               "read state p95 ms @1k events": "< 5", "read state p95 ms @100k events": "< 5, flat"}
    for key, value in results.items():
        print(f"| {key} | {value:,.2f} | {targets.get(key, '')} |")
    print(f"| load average at the end | {' '.join(open('/proc/loadavg').read().split()[:3])} | |")


if __name__ == "__main__":
    main()
