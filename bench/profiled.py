"""Run a `revenant` command under yappi (CPU clock, every thread) and write its profile when it exits.

    REVENANT_PROFILE=/tmp/serve.pstat .venv/bin/python bench/profiled.py serve --port 3000

yappi is not a dependency: `pip install yappi` first. The profile is a pstats file (`python -m pstats FILE`);
a text summary of the top functions by own and cumulative CPU goes beside it (FILE.txt).
"""

from __future__ import annotations

import atexit
import io
import os
import pstats
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yappi  # noqa: E402


def _dump(path: str) -> None:
    if not yappi.is_running():
        return
    yappi.stop()
    yappi.get_func_stats().save(path, type="pstat")
    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(60)
    Path(path + ".txt").write_text(out.getvalue())


def main() -> None:
    path = os.environ.get("REVENANT_PROFILE", "/tmp/revenant.pstat")
    yappi.set_clock_type("cpu")
    yappi.start(builtins=False, profile_threads=True)
    atexit.register(_dump, path)
    # SIGUSR1 writes the profile now: a server whose shutdown overruns its guard ends with os._exit (no atexit)
    signal.signal(signal.SIGUSR1, lambda *_: _dump(path))
    from bot.cli import main as revenant

    revenant(sys.argv[1:])


if __name__ == "__main__":
    main()
