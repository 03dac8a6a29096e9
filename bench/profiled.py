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
import threading
from pathlib import Path
from typing import NoReturn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yappi  # noqa: E402

_dumping = threading.Lock()
_dumped: list[str] = []


def _dump(path: str) -> None:
    with _dumping:  # a second caller waits for the first one's file, then finds it written
        if not _dumped and yappi.is_running():
            _write(path)
            _dumped.append(path)


def _write(path: str) -> None:
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
    # SIGUSR1 writes the profile now (bench/storm.py --profile sends it before stopping the server)
    signal.signal(signal.SIGUSR1, lambda *_: _dump(path))
    # SIGUSR2 forgets what was profiled so far (bench/ingest.py --profile sends it after its warm-up), so the
    # profile holds the measured requests, not start-up imports and the first requests' one-off work
    signal.signal(signal.SIGUSR2, lambda *_: yappi.clear_stats())
    # serve's bounded stop (bot/shutdown_guard.py) ends a slow clean-up with os._exit, which skips atexit:
    # write the profile before that exit too.
    from bot import shutdown_guard

    bounded_exit = shutdown_guard._exit_if_still_running

    def exit_after_dump(limit: float) -> None:
        _dump(path)
        bounded_exit(limit)

    shutdown_guard._exit_if_still_running = exit_after_dump
    # and a stop that finished ends the process with os._exit too (shutdown_guard.end_process)
    end_process = shutdown_guard.end_process

    def end_after_dump(code: int = 0) -> NoReturn:
        _dump(path)
        end_process(code)

    shutdown_guard.end_process = end_after_dump
    from bot.cli import main as revenant

    revenant(sys.argv[1:])


if __name__ == "__main__":
    main()
