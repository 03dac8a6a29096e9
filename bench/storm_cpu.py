"""CPU seconds of processes from /proc/<pid>/stat (utime + stime, every thread), and of the PostgreSQL
backends serving one database, sampled while they come and go."""

from __future__ import annotations

import os
import threading

import psycopg

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) so far, in seconds; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5), after "pid (comm)"


class BackendCpu:
    """Samples the backends connected to the database of `url` every `every` s; `total()` is the CPU they
    spent since `start()` (a backend that exits between two samples loses at most one interval)."""

    def __init__(self, url: str, every: float = 0.5) -> None:
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self.every = every
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._initial: set[int] = set()

    def start(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            self._initial = set(self._pids(conn))
        for pid in self._initial:
            self.first[pid] = self.last[pid] = cpu_seconds(pid)
        self._thread.start()

    def _pids(self, conn: psycopg.Connection) -> list[int]:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                            "AND pid <> pg_backend_pid()").fetchall()
        return [r[0] for r in rows]

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.wait(self.every):
                for pid in self._pids(conn):
                    now = cpu_seconds(pid)
                    self.first.setdefault(pid, 0.0)  # born during the run: all of its CPU counts
                    if now:
                        self.last[pid] = now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def total(self) -> float:
        return sum(self.last.get(pid, 0.0) - start for pid, start in self.first.items())
