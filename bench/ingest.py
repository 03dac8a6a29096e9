"""Webhook ingest benchmark on PostgreSQL (not a test): a real `revenant serve`, a loopback load generator.

    .venv/bin/python bench/ingest.py [--payloads 10000] [--fingerprints 500] [--concurrency 32] [--alerts 1]

Each payload is an Alertmanager v4 notification carrying one firing alert; fingerprints repeat
(500 distinct) with a new startsAt each time, so every delivery is a new signal that correlates
into an existing incident (about 50 services, so about 50 incidents). With --alerts N each payload is an
Alertmanager group of N alerts (N consecutive signals). Prints accepted signals/s,
p50/p99 latency, and the store-only rate (the same ingestion use case called in-process, no HTTP).

CPU per accepted signal is measured after a warm-up (the first 10 % of the payloads, and of the store-only
ones): the server process's (or the in-process run's) and that of the scratch database's PostgreSQL backends,
from /proc/<pid>/stat, so other work on a shared machine does not enter it. The server's column includes
what its background delivery threads do for those signals. With --pg-stats it also prints, per signal, what
PostgreSQL did over the measured HTTP part (from the scratch database's statistics views): rows written per
table, tuples fetched, PL/pgSQL functions' calls and time, commits and buffer hits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench.common import free_port, pct, say, scratch_database, wait_for_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def backends_cpu(url: str) -> dict[int, float]:
    """CPU so far of each PostgreSQL backend connected to this database (a bench's pool keeps them open)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND pid <> pg_backend_pid()")]
    return {pid: cpu_seconds(pid) for pid in pids}


def backends_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the backends spent between two readings (a backend that came up in between counts whole)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def signals_per_transaction(url: str) -> float:
    """Signals attached per committing transaction so far (rows inserted by one transaction share an xmin)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT xmin::text) FROM events "
                           "WHERE type = 'SignalAttached'").fetchone()
    return row[0] / row[1] if row and row[1] else float("nan")


_TABLES = ("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, coalesce(idx_tup_fetch, 0), seq_tup_read "
           "FROM pg_stat_user_tables")
_FUNCTIONS = "SELECT funcname, calls, self_time FROM pg_stat_user_functions"
_DATABASE = "SELECT xact_commit, blks_hit, tup_returned FROM pg_stat_database WHERE datname = current_database()"


def track_functions(url: str) -> None:
    """Count calls and time of the scratch database's PL/pgSQL functions (that database only; superuser)."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{plain.rsplit("/", 1)[1]}" SET track_functions = \'pl\'')


def pg_stats(url: str) -> dict[str, dict[str, tuple[float, ...]]]:
    """The scratch database's cumulative statistics: per table, per function, and for the database."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        return {"tables": {r[0]: tuple(map(float, r[1:])) for r in conn.execute(_TABLES)},
                "functions": {r[0]: tuple(map(float, r[1:])) for r in conn.execute(_FUNCTIONS)},
                "database": {"": tuple(map(float, conn.execute(_DATABASE).fetchone() or ()))}}


def print_pg_stats(before: dict, after: dict, signals: int) -> None:
    """Per accepted signal, what PostgreSQL did between two readings (statistics reach the views within ~1 s)."""
    heads = {"tables": "rows inserted / updated (HOT) / deleted, tuples fetched by index / by scan",
             "functions": "calls, own time ms (wall clock)", "database": "commits, buffer hits, tuples returned"}
    for part, head in heads.items():
        print(f"\n| {part}, per signal | {head} |\n|---|---|")
        for name, now in sorted(after[part].items()):
            then = before[part].get(name, (0.0,) * len(now))
            delta = [(b - a) / signals for a, b in zip(then, now, strict=True)]
            if any(delta):
                if part == "tables":
                    ins, upd, hot, dele, fetched, scanned = delta
                    text = f"{ins:.2f} / {upd:.2f} ({hot:.2f}) / {dele:.2f}, {fetched:.1f} / {scanned:.1f}"
                else:
                    text = ", ".join(f"{v:.3f}" for v in delta)
                print(f"| {name or 'all'} | {text} |")


def payload(i: int, fingerprints: int, alerts: int = 1) -> dict:
    """Payload `i`: an Alertmanager notification carrying `alerts` alerts (signals i*alerts … i*alerts+alerts-1)."""
    first = _notification(i * alerts, fingerprints)
    first["alerts"] = [a for n in range(alerts) for a in _notification(i * alerts + n, fingerprints)["alerts"]]
    return first


def _notification(i: int, fingerprints: int) -> dict:
    fp = i % fingerprints
    service = f"svc-{fp % 50}"
    starts = datetime(2026, 11, 27, 8, 0, tzinfo=UTC) + timedelta(seconds=i)
    labels = {"alertname": f"HighLatency{fp % 7}", "service": service, "severity": "critical",
              "cluster": "prod-eu-1", "namespace": f"ns-{fp % 50}", "instance": f"pod-{fp}"}
    return {
        "version": "4", "groupKey": f"{{}}:{{alertname=\"{labels['alertname']}\"}}", "truncatedAlerts": 0,
        "status": "firing", "receiver": "revenant", "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://alertmanager.local",
        "alerts": [{"status": "firing", "labels": labels,
                    "annotations": {"summary": f"{service} p99 latency above 2s", "description": f"run {i}"},
                    "startsAt": starts.isoformat().replace("+00:00", "Z"), "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.local/graph", "fingerprint": f"{fp:016x}"}],
    }


async def load(url: str, token: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    accepted = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            t = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as r:
                answer = await r.json()
                if r.status != 202:
                    raise RuntimeError(f"HTTP {r.status}: {answer}")
                accepted += sum(1 for s in answer["signals"] if not s["duplicate"])
            latencies.append((time.perf_counter() - t) * 1000)
            done = len(latencies)
            if done % 1000 == 0:
                say(f"  {done}/{len(bodies)} payloads")

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, accepted


def store_only(url: str, n: int, fingerprints: int, offset: int, alerts: int = 1) -> tuple[float, float, float]:
    """The same normalize + intake path in-process, no HTTP: signals/s, then the process's and the PostgreSQL
    backends' CPU per signal (ms) after the first 10 % of the payloads."""
    from bot.bootstrap import bootstrap
    from bot.settings import Settings
    from handlers.signals import normalize
    from incident_core.intake import intake_signals

    app = bootstrap(Settings(data_dir=Path("/tmp/revenant-bench"), database_url=url), migrate=False)  # type: ignore[call-arg]
    org = app.directory.create_org("bench-store")
    warm = n // 10
    started = time.perf_counter()
    for i in range(n):
        if i == warm:
            cpu, pg = time.process_time(), backends_cpu(url)
        signals = normalize("alertmanager", payload(offset + i, fingerprints, alerts), org_id=org.id,
                            project_id=None, received_at=datetime.now(UTC))
        intake_signals(deps=app.deps, org_id=org.id, signals=signals)
    rate = n * alerts / (time.perf_counter() - started)
    measured = (n - warm) * alerts
    own, pg_ms = time.process_time() - cpu, backends_delta(pg, backends_cpu(url))
    app.close()
    return rate, own * 1000 / measured, pg_ms * 1000 / measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payloads", type=int, default=10_000)
    parser.add_argument("--fingerprints", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--store-only", type=int, default=2000, help="payloads sent in-process")
    parser.add_argument("--alerts", type=int, default=1, help="alerts per payload (an Alertmanager group)")
    parser.add_argument("--profile", help="run the server under yappi (bench/profiled.py), writing this pstats file")
    parser.add_argument("--pg-stats", action="store_true",
                        help="print what PostgreSQL did per signal over HTTP (rows, index fetches, functions, commits)")
    args = parser.parse_args()
    with scratch_database("revenant_ingest") as url:
        env = {**os.environ, "REVENANT_DATABASE_URL": url, "REVENANT_DATA_DIR": "/tmp/revenant-bench"}
        created = subprocess.run([str(ROOT / ".venv/bin/revenant"), "org", "create", "bench", "--json"],
                                 env=env, capture_output=True, text=True, check=True)
        token = json.loads(created.stdout)["webhook_token"]
        if args.pg_stats:
            track_functions(url)
        port = free_port()
        command = [str(ROOT / ".venv/bin/python"), str(ROOT / "bench/profiled.py")] if args.profile else \
            [str(ROOT / ".venv/bin/revenant")]
        env.update({"REVENANT_PROFILE": args.profile} if args.profile else {})
        stats_before = None
        server = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            bodies = [json.dumps(payload(i, args.fingerprints, args.alerts)).encode() for i in range(args.payloads)]
            say(f"posting {args.payloads} payloads ({args.fingerprints} fingerprints), "
                f"concurrency {args.concurrency} …")
            hook = f"http://127.0.0.1:{port}/hooks/alertmanager"
            warm = len(bodies) // 10
            asyncio.run(load(hook, token, bodies[:warm], args.concurrency))
            if args.profile:
                server.send_signal(signal.SIGUSR2)  # profile the measured part only (bench/profiled.py)
            stats_before = pg_stats(url) if args.pg_stats else None
            server_cpu, pg_cpu = cpu_seconds(server.pid), backends_cpu(url)
            elapsed, lat, accepted = asyncio.run(load(hook, token, bodies[warm:], args.concurrency))
            server_ms = (cpu_seconds(server.pid) - server_cpu) * 1000 / accepted
            pg_ms = backends_delta(pg_cpu, backends_cpu(url)) * 1000 / accepted
            per_tx = signals_per_transaction(url)
        finally:
            server.terminate()
            server.wait(180 if args.profile else 30)  # a profiled server writes its profile first
        if stats_before is not None:
            time.sleep(1.5)  # the server's backends flush their last statistics as they exit
            print_pg_stats(stats_before, pg_stats(url), accepted)
        store: float | None = None
        store_ms = store_pg_ms = 0.0
        if args.store_only > 0:  # 0: HTTP only (a profiling run, say)
            say(f"store-only: {args.store_only} payloads through the same use case in-process …")
            store, store_ms, store_pg_ms = store_only(url, args.store_only, args.fingerprints, args.payloads,
                                                      args.alerts)
    http_rate = accepted / elapsed
    print("\n| measure | value | target |\n|---|---|---|")
    print(f"| accepted signals/s over HTTP | {http_rate:,.0f} | ≥ 2,000 |")
    print(f"| latency p50 ms | {pct(lat, 50):.1f} | |")
    print(f"| latency p99 ms | {pct(lat, 99):.1f} | < 100 |")
    if store is not None:
        print(f"| store-only signals/s (in-process, 1 thread) | {store:,.0f} | |")
        print(f"| ratio HTTP / store-only | {http_rate / store:.2f} | |")
    print(f"| payloads / accepted signals (alerts per payload), after the warm-up | {len(lat)} / {accepted} "
          f"({args.alerts}) | |")
    print(f"| CPU per signal over HTTP, server / PostgreSQL backends, ms | {server_ms:.2f} / {pg_ms:.2f} | |")
    print(f"| signals per transaction over HTTP (group commit) | {per_tx:.1f} | |")
    if store is not None:
        print(f"| CPU per signal in-process, process / PostgreSQL backends, ms | {store_ms:.2f} / {store_pg_ms:.2f} | |")
    print(f"| load average at the end | {Path('/proc/loadavg').read_text().split()[0]} | |")


if __name__ == "__main__":
    main()
