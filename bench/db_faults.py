"""How long each request path takes to answer while PostgreSQL is frozen or stopped (not a test).

    .venv/bin/python bench/db_faults.py [--rounds 5]

Runs a PostgreSQL cluster of its own (tests/pg_cluster.py, never the shared server), serves the app
against it with Slack and Teams configured against the emulators, then per round: freezes the cluster
(SIGSTOP) and times one request down each path, thaws it and times how long until every path is served
again; then the same with the cluster stopped and restarted. Prints median and worst seconds per path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.bootstrap import bootstrap  # noqa: E402
from bot.local_server import BackgroundServer  # noqa: E402
from bot.settings import Settings  # noqa: E402
from emulators.bot_connector import BotConnectorEmulator  # noqa: E402
from emulators.slack import SlackEmulator  # noqa: E402
from tests.pg_cluster import PrivateCluster  # noqa: E402
from tests.slack.conftest import SECRET  # noqa: E402
from tests.storage.test_database_faults import World  # noqa: E402


def timed(world: World, fresh: str) -> dict[str, tuple[int, float]]:
    """Each path's status and seconds, one request at a time."""
    out: dict[str, tuple[int, float]] = {}
    for name in ("webhook", "webhook token lookup", "healthz", "readyz", "slack", "teams"):
        started = time.perf_counter()
        status = world.every_path(fresh, only=name)[name][0]
        out[name] = (status, time.perf_counter() - started)
    return out


def recovered_after(world: World) -> float:
    started = time.perf_counter()
    while not all(status < 300 for status, _ in world.every_path().values()):
        time.sleep(0.1)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    samples: dict[str, dict[str, list[float]]] = {"frozen": {}, "stopped": {}}
    recovery: dict[str, list[float]] = {"frozen": [], "stopped": []}
    with PrivateCluster() as cluster, SlackEmulator() as slack, BotConnectorEmulator() as connector, \
            tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=cluster.url,  # type: ignore[call-arg]
                            slack_signing_secret=SECRET, slack_bot_token=slack.bot_token,
                            slack_api_url=slack.api_url, teams_allow_unauthenticated=True)
        app = bootstrap(settings, migrate=True)
        with BackgroundServer(app) as server:
            world = World(app, server.url, slack, connector)
            recovered_after(world)
            for _ in range(args.rounds):
                for fault in ("frozen", "stopped"):
                    fresh = app.directory.issue_token(world.org_id)
                    cluster.freeze() if fault == "frozen" else cluster.stop("fast")
                    try:
                        for name, (status, seconds) in timed(world, fresh).items():
                            assert status in (200, 503), (fault, name, status)
                            samples[fault].setdefault(f"{name} ({status})", []).append(seconds)
                    finally:
                        cluster.thaw() if fault == "frozen" else cluster.start()
                    recovery[fault].append(recovered_after(world))
        app.close()
    report = {fault: {name: {"median_s": round(statistics.median(v), 3), "max_s": round(max(v), 3)}
                      for name, v in paths.items()} for fault, paths in samples.items()}
    for fault, values in recovery.items():
        report[fault]["recovered (every path served again)"] = {
            "median_s": round(statistics.median(values), 3), "max_s": round(max(values), 3)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
