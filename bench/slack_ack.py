"""Slack acknowledgement benchmark (not a test): time to HTTP 200 for signed commands and clicks.

    .venv/bin/python bench/slack_ack.py [--requests 50] [--rounds 5] [--pause 0]

A real `revenant serve` on PostgreSQL, configured against the Slack Web API emulator; 50
concurrent signed slash commands and block actions per round, signed beforehand as Slack signs
them and sent at once from one asyncio client. Rounds follow each other at once (--pause 0: the
lazy work of one round overlaps the next round's acks) or after a pause (--pause 2: each round is
a burst on a settled server). Slack's limit is 3 s; target p99 < 100 ms. The last row is how long the
server took to exit after SIGTERM, with the lazy work of the last round still running (exit 1: the
shutdown guard ended a stuck stop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from bench.common import free_port, pct, say, scratch_database, wait_for_port  # noqa: E402
from emulators.slack import SlackEmulator  # noqa: E402
from emulators.slack_events import Delivery, SlackSender  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret-0123456789abcdef"


class CapturingSender(SlackSender):
    """Builds and signs requests exactly as SlackSender does, but keeps them instead of sending."""

    def replay(self, headers: dict[str, str], body: bytes) -> Delivery:
        return Delivery(0, "", {})


async def fire(url: str, batch: list[tuple[str, dict[str, str], bytes]]) -> list[tuple[str, float]]:
    """POST every request at once; (kind, ms to HTTP 200) each."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(batch))) as session:
        async def one(kind: str, headers: dict[str, str], body: bytes) -> tuple[str, float]:
            t = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status} for a {kind}")
            return kind, (time.perf_counter() - t) * 1000

        return await asyncio.gather(*(one(*item) for item in batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between rounds")
    parser.add_argument("--profile", help="run the server under yappi (bench/profiled.py), writing this pstats file")
    args = parser.parse_args()
    with scratch_database("revenant_slack") as url, SlackEmulator() as slack:
        env = {**os.environ, "REVENANT_DATABASE_URL": url, "REVENANT_DATA_DIR": "/tmp/revenant-bench",
               "SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url}
        run = lambda *a: subprocess.run([str(ROOT / ".venv/bin/revenant"), *a], env=env, check=True,  # noqa: E731
                                        capture_output=True, text=True)
        run("org", "create", "bench")
        run("org", "link-slack", "bench", slack.team_id)
        users = [slack.create_user(f"user{i}").id for i in range(10)]
        for u in users:
            run("org", "member", "bench", f"slack:{u}", "commander")
        port = free_port()
        command = [str(ROOT / ".venv/bin/python"), str(ROOT / "bench/profiled.py")] if args.profile else \
            [str(ROOT / ".venv/bin/revenant")]
        server = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                  env={**env, **({"REVENANT_PROFILE": args.profile} if args.profile else {})},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port)
            sender = SlackSender(app_url=f"http://127.0.0.1:{port}", signing_secret=SECRET, slack=slack)
            general = slack.channel_by_name("general").id  # type: ignore[union-attr]
            sender.command(users[0], general, "declare Bench incident sev3")
            incident_value = None
            for _ in range(100):
                messages = [m for c in slack.state.channels.values() if c.name.startswith("inc-")
                            for m in slack.messages(c.id) if m.get("blocks")]
                if messages:
                    war_room = messages[0]
                    buttons = [e for b in war_room["blocks"] if b["type"] == "actions" for e in b["elements"]]
                    incident_value = (war_room, buttons)
                    break
                time.sleep(0.1)
            assert incident_value, "the war room never appeared"
            war_room, buttons = incident_value
            channel = next(c.id for c in slack.state.channels.values() if c.name.startswith("inc-"))
            sev_buttons = [b for b in buttons if "severity" in b["action_id"]]
            commands: list[float] = []
            clicks: list[float] = []

            texts = ["list", "help", "timeline", "catchup", "note benchmark note", "update"]
            capture = CapturingSender(app_url=sender.app_url, signing_secret=SECRET, slack=slack)
            for r in range(args.rounds):
                # Sign the round's requests first (as Slack would have), then send them all at once
                # from one asyncio client, so the load generator's own CPU stays out of the timings.
                batch = []
                for i in range(args.requests):
                    user = users[i % len(users)]
                    if i % 2:
                        capture.click(user, channel, war_room["ts"], sev_buttons[i % len(sev_buttons)])
                        batch.append(("click", *capture.sent[-1]))
                    else:
                        capture.command(user, channel, texts[i % len(texts)])
                        batch.append(("command", *capture.sent[-1]))
                say(f"round {r + 1}/{args.rounds}: {args.requests} concurrent requests")
                timings = asyncio.run(fire(f"{sender.app_url}/slack/events", batch))
                for kind, ms in timings:
                    (clicks if kind == "click" else commands).append(ms)
                this_round = [ms for _, ms in timings]
                say(f"  p50 {pct(this_round, 50):.1f} ms, p99 {pct(this_round, 99):.1f} ms")
                time.sleep(args.pause)
        finally:
            stopping = time.perf_counter()
            server.terminate()
            try:
                code: int | str = server.wait(180 if args.profile else 30)  # a profiled server writes its profile
            except subprocess.TimeoutExpired:
                server.kill()
                code = f"still running at 30 s (killed; exit {server.wait()})"
            stop_s = time.perf_counter() - stopping
    both = commands + clicks
    print("\n| measure | value | target |\n|---|---|---|")
    for name, values in (("slash commands", commands), ("block actions", clicks), ("all", both)):
        print(f"| {name}: p50 / p99 ms (n={len(values)}) | {pct(values, 50):.1f} / {pct(values, 99):.1f} |"
              f"{' p99 < 100' if name == 'all' else ''} |")
    print(f"| requests | {len(both)} ({args.rounds} rounds × {args.requests} concurrent) | |")
    print(f"| serve's stop after SIGTERM | {stop_s:.1f} s, exit {code} | exit 0, well inside the guard's 15 s |")



if __name__ == "__main__":
    main()
