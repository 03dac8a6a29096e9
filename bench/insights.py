"""Insights benchmark (not a test): the pattern report, the weekly digest and the chart over a seeded history.

    .venv/bin/python bench/insights.py [--incidents 2000] [--postgres]

The history is written through the real use cases (signals, acknowledgement, resolution), as in
tests/insights/history.py; then each read is timed over several runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import mean, pct, say, scratch_database  # noqa: E402


def _timed(fn, runs: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return {"mean_ms": round(mean(times), 1), "p95_ms": round(pct(times, 95), 1)}


def run(url: str, data_dir: Path, incidents: int, runs: int) -> dict[str, object]:
    from bot.bootstrap import bootstrap
    from bot.insights_wiring import history
    from bot.settings import Settings
    from handlers.insights_chart import COMPACT, render_chart
    from incident_core.insights import digest_week
    from incident_core.insights_usecases import pattern_report, weekly_digest
    from tests.insights.history import NOW, StepClock, seed

    clock = StepClock()
    app = bootstrap(Settings(data_dir=data_dir, database_url=url), migrate=url.startswith("sqlite"),  # type: ignore[call-arg]
                    clock=clock)
    try:
        org = app.directory.create_org("bench-insights")
        start = time.perf_counter()
        seed(app, clock, org.id, incidents, now=NOW, every=timedelta(days=90) / incidents)
        seeded = time.perf_counter() - start
        past = history(app)
        report = pattern_report(history=past, tracker=None, org_id=org.id, now=NOW, period=timedelta(days=90))
        digest = weekly_digest(history=past, tracker=None, org_id=org.id, scope="bench", week=digest_week(NOW))
        return {
            "database": app.engine.dialect.name, "incidents": incidents, "seed_s": round(seeded, 1),
            "in_90_days": report.incidents, "patterns": len(report.patterns),
            "pattern_report_90d": _timed(lambda: pattern_report(history=past, tracker=None, org_id=org.id, now=NOW,
                                                                period=timedelta(days=90)), runs),
            "weekly_digest": _timed(lambda: weekly_digest(history=past, tracker=None, org_id=org.id, scope="bench",
                                                          week=digest_week(NOW)), runs),
            "chart_png": _timed(lambda: render_chart(digest.series, title="bench"), runs),
            "chart_png_compact": _timed(lambda: render_chart(digest.series, title="bench", size=COMPACT,
                                                             palette_colours=16), runs),
            "chart_bytes": len(render_chart(digest.series, title="bench")),
            "compact_chart_bytes": len(render_chart(digest.series, title="bench", size=COMPACT, palette_colours=16)),
        }
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (a scratch database) instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="revenant-bench-insights-") as tmp:
        if args.postgres:
            with scratch_database("bench_insights") as url:
                result = run(url, Path(tmp), args.incidents, args.runs)
        else:
            result = run(f"sqlite:///{tmp}/revenant.db", Path(tmp), args.incidents, args.runs)
    say(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
