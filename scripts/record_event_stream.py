"""Record the event streams `revenant demo` writes, as stored, into a JSON fixture.

The demo drives the real use cases end to end (signals by webhook open and grow incidents, a Slack
room opens, responders run commands, guidance posts suggestions, actions are requested, confirmed
and run, the postmortem is drafted, edited, approved and published, the incident resolves). This
keeps each incident stream's rows exactly as the events table holds them (type, data, metadata,
times, actor) and the projection's state document at the end, so tests can replay streams written
by an older version of the code through the current one (tests/storage/test_recorded_stream.py).

Usage: .venv/bin/python scripts/record_event_stream.py tests/fixtures/event_stream_v1.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def record(data_dir: Path) -> dict[str, Any]:
    """Run the demo in `data_dir` and read back its incident streams."""
    from bot.demo import run_demo

    run_demo(data_dir=str(data_dir))
    engine = sa.create_engine(f"sqlite:///{data_dir / 'revenant.db'}")
    with engine.connect() as conn:
        org_id = conn.execute(sa.text("SELECT id FROM organizations WHERE name = 'acme-demo'")).scalar_one()
        incidents = conn.execute(sa.text("SELECT id, number, state FROM incidents WHERE org_id = :o ORDER BY number"),
                                 {"o": org_id}).all()
        streams = []
        for inc in incidents:
            rows = conn.execute(sa.text(
                "SELECT stream_version, type, data, metadata, occurred_at, recorded_at, actor, idempotency_key "
                "FROM events WHERE org_id = :o AND stream_id = :s ORDER BY stream_version"),
                {"o": org_id, "s": inc.id}).mappings().all()
            streams.append({
                "stream_id": inc.id, "number": inc.number,
                "events": [{k: json.loads(v) if k in ("data", "metadata") else _plain(v) for k, v in r.items()}
                           for r in rows],
                "state": json.loads(inc.state),
            })
    engine.dispose()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip() or "unknown"
    return {"recorded_with": f"revenant demo at commit {commit}", "org_id": org_id, "streams": streams}


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/event_stream_v1.json")
    with tempfile.TemporaryDirectory(prefix="revenant-record-") as tmp:
        recorded = record(Path(tmp))
    out.write_text(json.dumps(recorded, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{out}: {len(recorded['streams'])} stream(s), "
          f"{sum(len(s['events']) for s in recorded['streams'])} event(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
