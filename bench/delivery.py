"""Outbox delivery and the reminder tick at many orgs (benchmark, not a test).

    .venv/bin/python bench/delivery.py rooms [--orgs 10000] [--postgres] [--threads 4] [--refusing 0]
    .venv/bin/python bench/delivery.py reminders [--orgs 10000] [--open 1000] [--postgres]

rooms: one thread declares an incident in every org as fast as it can (a burst of alerts) while a
Deliverer runs passes, as `revenant worker` does. Each org's incident.changed goes to a subscriber that
opens a room on the Slack emulator through the production client (conversations.create, then
chat.postMessage). Reports the wait from the alert to the room, for the last org, p50/p95, and by
org-id tenth (lowest vs highest ids; alerts arrive in a shuffled order), and this process's CPU per room. With --refusing N, the first N orgs' subscriber posts to a port
that refuses connections; the report then gives the other orgs' waits, to compare with a run without.

reminders: --orgs orgs, --open of them with an open SEV1 incident; times one tick with nothing due and
one with every open incident due (each evaluated, a reminder fired), and counts the SQL statements and
transactions each tick sent (--profile: the tick's top functions by cumulative time as well).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import free_port, pct, say, scratch_database  # noqa: E402

from bot.bootstrap import App, bootstrap  # noqa: E402
from bot.delivery import Deliverer  # noqa: E402
from bot.settings import Settings  # noqa: E402
from emulators.slack import SlackEmulator  # noqa: E402
from handlers.slack.outbound import make_client  # noqa: E402
from incident_core import usecases as uc  # noqa: E402
from incident_core.model import Severity  # noqa: E402
from storage.outbox import PendingMessage  # noqa: E402


def build(stack: ExitStack, postgres: bool, **overrides: object) -> App:
    data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="revenant-bench-")))
    url = stack.enter_context(scratch_database("bench_delivery")) if postgres else f"sqlite:///{data / 'bench.db'}"
    app = bootstrap(Settings(data_dir=data, database_url=url), migrate=not postgres, **overrides)  # type: ignore[call-arg]
    stack.callback(app.close)
    return app


def make_orgs(app: App, n: int) -> list[str]:
    started = time.perf_counter()
    orgs = [app.directory.create_org(f"bench-{i:05d}").id for i in range(n)]
    say(f"{n} orgs created in {time.perf_counter() - started:.1f} s")
    return sorted(orgs)  # org-id order: the order the old outbox served them in


def rooms(args: argparse.Namespace) -> None:
    with ExitStack() as stack:
        slack = stack.enter_context(SlackEmulator())
        app = build(stack, args.postgres)
        orgs = make_orgs(app, args.orgs)
        refusing = set(orgs[:args.refusing])
        good, bad = make_client(slack.bot_token, slack.api_url), make_client("xoxb-x", f"http://127.0.0.1:{free_port()}/api/")
        opened: dict[str, float] = {}
        alerted: dict[str, float] = {}

        def room_keeper(msg: PendingMessage) -> None:
            client = bad if msg.org_id in refusing else good
            created = client.conversations_create(name=f"inc-{msg.org_id[:20]}-{msg.id}")
            client.chat_postMessage(channel=created["channel"]["id"], text="war room")
            opened.setdefault(msg.org_id, time.monotonic())

        room_keeper.subscriber_name = "SlackRoomKeeper"  # type: ignore[attr-defined]
        d = Deliverer(app.outbox, {"incident.changed": [room_keeper]}, threads=args.threads)
        done = threading.Event()

        def deliver() -> None:
            while not done.is_set():
                if not d.run_pass():
                    time.sleep(0.05)

        worker = threading.Thread(target=deliver, daemon=True)
        worker.start()
        started, cpu_started = time.monotonic(), time.process_time()
        order = orgs[:]
        random.Random(7).shuffle(order)  # alerts arrive in no particular org-id order
        for org in order:
            alerted[org] = time.monotonic()
            uc.declare_incident(deps=app.deps, org_id=org, actor="alertmanager", title="HighErrorRate",
                                severity=Severity.SEV2)
        say(f"{len(order)} alerts in {time.monotonic() - started:.1f} s")
        want = set(orgs) - refusing
        while not want <= set(opened) and time.monotonic() - started < args.timeout:
            time.sleep(0.2)
        done.set()
        d.stop()
        cpu = time.process_time() - cpu_started
        waits = {o: opened[o] - alerted[o] for o in want if o in opened}
        missing = len(want) - len(waits)
        last = max(opened[o] for o in waits) - started if waits else float("nan")
        tenth = max(1, len(orgs) // 10)
        ranked = [o for o in orgs if o in waits]  # org-id order, refusing orgs left out
        low = [waits[o] for o in ranked[:tenth]]
        high = [waits[o] for o in ranked[-tenth:]]
        values = list(waits.values())
        say(f"rooms: {len(waits)} opened, {missing} missing; last room {last:.1f} s after the first alert; "
            f"alert→room p50 {pct(values, 50):.1f} s, p95 {pct(values, 95):.1f} s, max {max(values):.1f} s")
        say(f"CPU of this process (declares, deliveries and the emulator) {cpu:.1f} s: "
            f"{cpu / max(1, len(waits)) * 1000:.2f} ms per room opened")
        say(f"by org id: lowest tenth mean {sum(low) / len(low):.1f} s, highest tenth mean "
            f"{sum(high) / len(high):.1f} s (refusing orgs: {len(refusing)})")


def reminders(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    from sqlalchemy import event

    from bot.reminders import tick

    class Clock:
        at = datetime.now(UTC)

        def now(self) -> datetime:
            return self.at

    clock = Clock()
    with ExitStack() as stack:
        app = build(stack, args.postgres, clock=clock, no_scheduler=True)
        orgs = make_orgs(app, args.orgs)
        for org in orgs[:args.open]:
            uc.declare_incident(deps=app.deps, org_id=org, actor="u", title="Checkout down", severity=Severity.SEV1)
        tick(app, use_leader=False)  # the first look at every new incident
        sent = {"statements": 0, "transactions": 0}

        def count(*_args: object) -> None:
            sent["statements"] += 1

        def begin(*_args: object) -> None:
            sent["transactions"] += 1

        event.listen(app.engine, "before_cursor_execute", count)
        event.listen(app.engine, "begin", begin)
        for label, ahead in (("nothing due", timedelta(minutes=5)), ("every open incident due", timedelta(minutes=31))):
            clock.at = datetime.now(UTC) + ahead
            sent.update(statements=0, transactions=0)
            profile = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if profile:
                profile.enable()
            fired = tick(app, use_leader=False)
            took = time.perf_counter() - started
            if profile:
                profile.disable()
                pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
            say(f"tick at {args.orgs} orgs, {args.open} open incidents, {label}: {took:.3f} s, "
                f"{fired} reminder(s) fired, {sent['statements']} statements in {sent['transactions']} transactions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("rooms", "reminders"))
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--open", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--refusing", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", action="store_true", help="reminders: print the tick's profile")
    args = parser.parse_args()
    (rooms if args.mode == "rooms" else reminders)(args)


if __name__ == "__main__":
    main()
