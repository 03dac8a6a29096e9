"""Slack acknowledgement benchmark (not a test): time to HTTP 200 for signed commands and clicks.

    .venv/bin/python bench/slack_ack.py [--requests 50] [--rounds 5]

A real `revenant serve` on PostgreSQL, configured against the Slack Web API emulator; 50
concurrent signed slash commands and block actions per round. Slack's limit is 3 s; target p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import free_port, pct, say, scratch_database, wait_for_port  # noqa: E402
from emulators.slack import SlackEmulator  # noqa: E402
from emulators.slack_events import SlackSender  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret-0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
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
        server = subprocess.Popen([str(ROOT / ".venv/bin/revenant"), "serve", "--host", "127.0.0.1", "--port",
                                   str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            commands, clicks = [], []

            def timed(fn):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                status = fn()
                return status, (time.perf_counter() - t) * 1000

            texts = ["list", "help", "timeline", "catchup", "note benchmark note", "update"]
            with ThreadPoolExecutor(max_workers=args.requests) as pool:
                for r in range(args.rounds):
                    say(f"round {r + 1}/{args.rounds}: {args.requests} concurrent requests")
                    jobs = []
                    for i in range(args.requests):
                        user = users[i % len(users)]
                        if i % 2:
                            jobs.append(("click", pool.submit(timed, lambda u=user, b=sev_buttons[i % len(sev_buttons)]:
                                                              sender.click(u, channel, war_room["ts"], b).status)))
                        else:
                            jobs.append(("command", pool.submit(timed, lambda u=user, t=texts[i % len(texts)]:
                                                                sender.command(u, channel, t)[0].status)))
                    for kind, job in jobs:
                        status, ms = job.result()
                        assert status == 200, status
                        (clicks if kind == "click" else commands).append(ms)
        finally:
            server.terminate()
            server.wait(30)
    both = commands + clicks
    print("\n| measure | value | target |\n|---|---|---|")
    for name, values in (("slash commands", commands), ("block actions", clicks), ("all", both)):
        print(f"| {name}: p50 / p99 ms (n={len(values)}) | {pct(values, 50):.1f} / {pct(values, 99):.1f} |"
              f"{' p99 < 100' if name == 'all' else ''} |")
    print(f"| requests | {len(both)} ({args.rounds} rounds × {args.requests} concurrent) | |")



if __name__ == "__main__":
    main()
