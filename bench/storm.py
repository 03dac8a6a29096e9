"""Alert storm on PostgreSQL (a benchmark, not a test): alerts paced over a minute across many orgs, each
incident's war room kept on the Slack emulator by a real `revenant serve`.

    .venv/bin/python bench/storm.py [--alerts 5000] [--seconds 60] [--orgs 20] [--group 5] [--services 10]
                                    [--profile FILE]   (the server under yappi: bench/profiled.py)
                                    [--workers N] [--server-tree DIR]   (serve and workers from another tree)

Every org is a Slack workspace of its own (an OAuth installation on the emulator, which runs in this
process) with automatic incident channels. Alertmanager groups of --group alerts go to the orgs in turn,
evenly paced; every alert has its own fingerprint and one of --services services, so each org gets about
--services incidents. Reported:
- accepted alerts, HTTP p50/p99, and the p95/max of (alert accepted → the first war-room update whose
  "N signal(s)" count includes it, as the emulator received it);
- the same rows written by a raw batched INSERT (events, incidents, projections, outbox), its time and
  the ratio of CPU seconds (server + PostgreSQL backends of the storm / client + backend of the INSERT);
- the CPU split between the server, the PostgreSQL backends of the scratch database and this process
  (load generator + Slack emulator), from /proc/<pid>/stat utime+stime;
- the `incident.changed` messages delivered by a claim of their own (not folded into another), and the server's
  and workers' CPU per such message (ingest included: the storm's delivery share moves it).
`--server-tree /tmp/base` runs the server and workers from another checkout (its `.venv`, PYTHONPATH=that tree)
while this process (load, emulator, the figures) stays the same: a base measured by the same bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.common import free_port, pct, say, scratch_database, wait_for_port  # noqa: E402
from bench.storm_cpu import BackendCpu, cpu_seconds  # noqa: E402
from bench.storm_raw import raw_insert  # noqa: E402

KEY = "q2oUKVo8Q3b4Q4kz8Yc6pQ2bOBMkfu1R3pH9vFv1u2c="  # a Fernet key for the scratch installations
SECRET = "storm-signing-secret"
SHOWN = re.compile(r"unreachable \((\d+)\)")  # an alert's title, as the war room lists its latest signals
T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def group(k: int, size: int, services: int, orgs: int) -> dict[str, Any]:
    """Delivery k (to org k mod orgs): `size` firing alerts of one service, fingerprints of their own; an org's
    deliveries cycle through its services, so each service's alerts become one incident."""
    svc = f"svc-{(k // orgs) % services}"
    alerts = []
    for a in range(size):
        n = k * size + a
        labels = {"alertname": f"ZoneDown-{svc}", "service": svc, "severity": "critical",
                  "cluster": "prod-eu-1", "instance": f"pod-{n}"}
        alerts.append({"status": "firing", "labels": labels,
                       "annotations": {"summary": f"{svc} unreachable ({n})"},
                       "startsAt": (T0 + timedelta(milliseconds=n)).isoformat().replace("+00:00", "Z"),
                       "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"storm{n:08d}"})
    return {"version": "4", "status": "firing", "receiver": "revenant",
            "groupKey": f"{{}}:{{alertname=\"ZoneDown-{svc}\"}}", "truncatedAlerts": 0,
            "groupLabels": {"alertname": f"ZoneDown-{svc}"}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am", "alerts": alerts}


def setup(url: str, slack: Any, orgs: int, data: Path) -> tuple[Any, list[tuple[str, str]]]:
    """`orgs` orgs, each bound to a workspace of its own with an installed bot; (org id, webhook token)."""
    from slack_sdk.oauth.installation_store import Installation

    from bot.bootstrap import bootstrap
    from bot.settings import Settings
    from bot.slack_wiring import installation_store

    app = bootstrap(Settings(data_dir=data, database_url=url, slack_client_id=slack.client_id,  # type: ignore[call-arg]
                             slack_client_secret=slack.client_secret, slack_signing_secret=SECRET,
                             slack_api_url=slack.api_url, encryption_key=KEY), migrate=False)
    store = installation_store(app)
    out = []
    for i in range(orgs):
        token = f"xoxb-storm-{i}"
        team = slack.create_team(f"Storm {i}", f"storm{i}", bot_token=token)
        bot_user = slack.state.bot_users[team.id]
        org = app.directory.create_org(f"storm-{i:02d}")
        app.directory.bind("slack", team.id, org.id)
        app.directory.update_org_settings(org.id, {"slack": {"auto_channel": True}})
        store.sync.save(Installation(app_id=slack.app_id, team_id=team.id, team_name=team.name, bot_token=token,
                                     bot_id=slack.state.users[bot_user].bot_id, bot_user_id=bot_user,
                                     bot_scopes=["channels:manage", "chat:write"], user_id=bot_user,
                                     installed_at=time.time()))
        out.append((org.id, app.directory.issue_token(org.id)))
    return app, out


async def load(url: str, orgs: list[tuple[str, str]], bodies: list[dict[str, Any]], seconds: float,
               accepted: dict[str, tuple[float, str | None]], latencies: list[float]) -> float:
    """Post delivery k at k × seconds / len(bodies) to org k mod len(orgs); returns the elapsed time."""
    started = time.perf_counter()
    interval = seconds / len(bodies)

    async def one(session: aiohttp.ClientSession, k: int) -> None:
        await asyncio.sleep(max(0.0, started + k * interval - time.perf_counter()))
        _, token = orgs[k % len(orgs)]
        t = time.perf_counter()
        async with session.post(f"{url}/hooks/alertmanager", data=json.dumps(bodies[k]).encode(),
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as r:
            answer = await r.json()
            if r.status != 202:
                raise RuntimeError(f"HTTP {r.status}: {answer}")
        at = time.time()
        latencies.append((time.perf_counter() - t) * 1000)
        for s in answer["signals"]:
            accepted[s["fingerprint"]] = (at, s["incident_id"])

    async def progress() -> None:
        while True:
            await asyncio.sleep(5)
            say(f"  {time.perf_counter() - started:5.1f} s: {len(latencies)}/{len(bodies)} deliveries answered, "
                f"{len(accepted)} alerts accepted")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        ticker = asyncio.create_task(progress())
        await asyncio.gather(*(one(session, k) for k in range(len(bodies))))
        ticker.cancel()
    return time.perf_counter() - started


def war_room_updates(slack: Any) -> dict[str, list[tuple[float, list[str]]]]:
    """Channel → (arrival time, fingerprints of the signals it lists) of every war-room post and update."""
    out: dict[str, list[tuple[float, list[str]]]] = {}
    for method in ("chat.postMessage", "chat.update"):
        for r in slack.requests.filter(method):
            body = {**dict(r.query), **(r.body if isinstance(r.body, dict) else {})}
            shown = [f"storm{int(n):08d}" for n in SHOWN.findall(json.dumps(body))]
            if shown and body.get("channel"):
                out.setdefault(str(body["channel"]), []).append((r.at, shown))
    return out


def reflected(updates: dict[str, list[tuple[float, list[str]]]], where: dict[str, tuple[str, int]],
              rooms: dict[str, str]) -> dict[str, list[tuple[float, int]]]:
    """Incident → (arrival time, newest signal ordinal the update shows): an update showing signal k includes
    every signal up to k."""
    out: dict[str, list[tuple[float, int]]] = {}
    channels = {room: incident for incident, room in rooms.items()}
    for channel, items in updates.items():
        incident = channels.get(channel)
        if incident is None:
            continue
        out[incident] = sorted((at, max((where[f][1] for f in shown if f in where), default=0))
                               for at, shown in items)
    return out


def ordinals(app: Any, orgs: list[tuple[str, str]]) -> tuple[dict[str, tuple[str, int]], dict[str, str], int]:
    """Fingerprint → (incident, its signal ordinal there); incident → Slack channel; incidents in all."""
    from incident_core import events as ev

    where: dict[str, tuple[str, int]] = {}
    rooms: dict[str, str] = {}
    incidents = 0
    for org_id, _ in orgs:
        for state in app.queries.list_incidents(org_id, limit=10_000):
            incidents += 1
            if "slack" in state.rooms:
                rooms[state.human_id + "@" + org_id] = state.rooms["slack"].room_id
            n = 0
            for e in app.queries.timeline(org_id, state.incident_id):
                if isinstance(e, ev.SignalAttached):
                    n += 1
                    where[str(e.signal["fingerprint"])] = (state.human_id + "@" + org_id, n)
    return where, rooms, incidents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--group", type=int, default=5, help="alerts per Alertmanager delivery")
    parser.add_argument("--services", type=int, default=10, help="services (so incidents) per org")
    parser.add_argument("--settle", type=float, default=120.0, help="seconds to wait for the war rooms after the load")
    parser.add_argument("--profile", help="run the server under yappi (bench/profiled.py), writing this pstats file")
    parser.add_argument("--workers", type=int, default=0,
                        help="also run this many `revenant worker` processes (Procfile's worker: outbox delivery)")
    parser.add_argument("--server-tree", type=Path, default=ROOT,
                        help="run serve and workers from this tree (its .venv, PYTHONPATH=tree): a base alongside")
    args = parser.parse_args()
    from emulators.slack import SlackEmulator

    deliveries = args.alerts // args.group
    bodies = [group(k, args.group, args.services, args.orgs) for k in range(deliveries)]
    with scratch_database("revenant_storm") as url, SlackEmulator() as slack, \
            tempfile.TemporaryDirectory(prefix="revenant-storm-") as tmp:
        app, orgs = setup(url, slack, args.orgs, Path(tmp))
        env = {**os.environ, "REVENANT_DATABASE_URL": url, "REVENANT_DATA_DIR": tmp, "REVENANT_EMBEDDINGS": "hashing",
               "SLACK_CLIENT_ID": slack.client_id, "SLACK_CLIENT_SECRET": slack.client_secret,
               "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url, "REVENANT_ENCRYPTION_KEY": KEY}
        port = free_port()
        tree = args.server_tree.resolve()
        if tree != ROOT:
            env["PYTHONPATH"] = str(tree)
        command = [str(ROOT / ".venv/bin/python"), str(ROOT / "bench/profiled.py")] if args.profile else \
            [str(tree / ".venv/bin/revenant")]
        env.update({"REVENANT_PROFILE": args.profile, "REVENANT_DB_TIMEOUT": "10"} if args.profile else {})
        server = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers = [subprocess.Popen([str(tree / ".venv/bin/revenant"), "worker"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(args.workers)]
        accepted: dict[str, tuple[float, str | None]] = {}
        latencies: list[float] = []
        try:
            wait_for_port(port, timeout=600 if args.profile else 120)  # imports under yappi are slow
            backends = BackendCpu(url)
            backends.start()
            cpu0 = {"server": cpu_seconds(server.pid), "load": cpu_seconds(os.getpid()),
                    "workers": sum(cpu_seconds(w.pid) for w in workers)}
            say(f"storm: {args.alerts} alerts in {deliveries} deliveries over {args.seconds:.0f} s, {args.orgs} orgs …")
            elapsed = asyncio.run(load(f"http://127.0.0.1:{port}", orgs, bodies, args.seconds, accepted, latencies))
            say(f"load done in {elapsed:.1f} s; waiting up to {args.settle:.0f} s for the war rooms …")
            where, rooms, incidents = settle(app, slack, orgs, args.settle)
            messages = delivered_messages(app, orgs)
            cpu = {"server": cpu_seconds(server.pid) - cpu0["server"],
                   "load": cpu_seconds(os.getpid()) - cpu0["load"],
                   "workers": sum(cpu_seconds(w.pid) for w in workers) - cpu0["workers"]}
            backends.stop()
            cpu["postgres"] = backends.total()
        finally:
            if args.profile:
                server.send_signal(signal.SIGUSR1)  # bench/profiled.py writes the profile
                deadline = time.monotonic() + 120
                while not Path(args.profile + ".txt").exists() and time.monotonic() < deadline:
                    time.sleep(1)
            server.terminate()
            server.wait(180 if args.profile else 30)  # a profiled server writes its profile first
            for worker in workers:
                worker.terminate()
                worker.wait(30)
        calls = Counter(r.operation for r in slack.requests.all() if r.operation)  # Web API methods only
        updates = reflected(war_room_updates(slack), where, rooms)
        waits, missing = [], 0
        for fp, (at, _) in accepted.items():
            incident, n = where.get(fp, ("", 0))
            shown = [t for t, newest in updates.get(incident, []) if newest >= n]
            if not n or not shown:
                missing += 1
            else:
                waits.append(max(0.0, min(shown) - at))
        say("raw batched INSERT of the same rows …")
        raw = raw_insert(url)
        app.close()
    total = sum(cpu.values())
    print("\n| measure | value | target |\n|---|---|---|")
    print(f"| alerts accepted / sent | {len(accepted)} / {deliveries * args.group} in {elapsed:.1f} s "
          f"({len(accepted) / elapsed:,.0f}/s) | 5,000 in 60 s |")
    print(f"| incidents / with a Slack room | {incidents} / {len(rooms)} | |")
    print(f"| HTTP latency p50 / p99 ms | {pct(latencies, 50):.0f} / {pct(latencies, 99):.0f} | |")
    print(f"| alert accepted → war-room update delivered, p50 / p95 / max s | {pct(waits, 50):.2f} / "
          f"**{pct(waits, 95):.2f}** / {max(waits, default=float('nan')):.2f} | p95 ≤ 5 s |")
    print(f"| alerts whose update never came (within --settle) | {missing} | 0 |")
    print(f"| `incident.changed` messages delivered (not folded into another) | {messages} | |")
    print(f"| Slack Web API calls per incident with a room (of which conversations.history / pins.list / "
          f"bookmarks.list) | {sum(calls.values()) / max(len(rooms), 1):.1f} ({calls['conversations.history']} / "
          f"{calls['pins.list']} / {calls['bookmarks.list']} in all) | |")
    print(f"| CPU ms per delivered message, server + workers (ingest included) | "
          f"{1000 * (cpu['server'] + cpu['workers']) / max(messages, 1):.1f} | |")
    print(f"| raw batched INSERT of the same {raw.rows:,} rows | {raw.seconds:.2f} s wall, {raw.cpu:.2f} CPU s "
          f"(client + backend) | |")
    storm_cpu = cpu["server"] + cpu["workers"] + cpu["postgres"]
    print(f"| CPU s, storm / raw INSERT (server, workers + PostgreSQL backends) | {storm_cpu:.1f} / "
          f"{raw.cpu:.2f} = {storm_cpu / max(raw.cpu, 1e-9):.0f}× | |")
    for name, label in (("server", "revenant serve"), ("workers", f"{args.workers} revenant worker process(es)"),
                        ("postgres", "PostgreSQL backends of the storm's database"),
                        ("load", "load generator + Slack emulator (this process)")):
        print(f"| CPU {label} | {cpu[name]:.1f} s ({cpu[name] / total:.0%}) | |")
    print(f"| load average at the end | {' '.join(open('/proc/loadavg').read().split()[:3])} | |")


def delivered_messages(app: Any, orgs: list[tuple[str, str]]) -> int:
    """The storm's `incident.changed` messages delivered by their own claim (not folded into another)."""
    import sqlalchemy as sa

    from storage.engine import scope_to_org
    from storage.unit_of_work import OUTBOX

    total = 0
    with app.engine.begin() as conn:
        for org_id, _ in orgs:
            scope_to_org(conn, org_id)
            total += int(conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                OUTBOX.c.org_id == org_id, OUTBOX.c.topic == "incident.changed", OUTBOX.c.delivered_at.is_not(None),
                sa.or_(OUTBOX.c.last_error.is_(None), ~OUTBOX.c.last_error.startswith("coalesced")))).scalar() or 0)
    return total


def settle(app: Any, slack: Any, orgs: list[tuple[str, str]], timeout: float) -> tuple[Any, Any, int]:
    """Wait until every incident's war room shows its signal count (or the timeout); the final mapping."""
    deadline = time.monotonic() + timeout
    while True:
        where, rooms, incidents = ordinals(app, orgs)
        updates = reflected(war_room_updates(slack), where, rooms)
        counts: dict[str, int] = {}
        for incident, n in where.values():
            counts[incident] = max(counts.get(incident, 0), n)
        behind = [i for i, n in counts.items() if max((c for _, c in updates.get(i, [])), default=0) < n]
        if not behind or time.monotonic() > deadline:
            say(f"  {incidents} incidents, {len(rooms)} rooms, {len(behind)} war rooms behind")
            return where, rooms, incidents
        say(f"  {len(behind)} of {incidents} war rooms behind …")
        time.sleep(3)


if __name__ == "__main__":
    threading.excepthook = lambda a: say(f"thread error: {a.exc_value!r}")
    main()
