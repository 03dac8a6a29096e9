"""`revenant serve` and `revenant worker` as real processes on one database, for multi-process tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REVENANT = str(Path(sys.executable).parent / "revenant")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """This process's environment without our settings, plus the database, the data dir and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVENANT_", "SLACK_", "OPENAI_", "MICROSOFT_"))}
    env.update({"REVENANT_DATA_DIR": str(data_dir), "REVENANT_DATABASE_URL": database_url,
                "REVENANT_EMBEDDINGS": "hashing", **extra})
    return env


class Processes:
    """Started processes, each logging to a file under `logs`; stopped (and reaped) at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen([REVENANT, *args], env=self.env, cwd=self.logs, stdout=log, stderr=subprocess.STDOUT)
        self.running[name] = proc
        return proc

    def serve(self, name: str) -> str:
        """Start `revenant serve` on a free port; returns its URL once /healthz answers."""
        port = free_port()
        proc = self.start(name, "serve", "--host", "127.0.0.1", "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return url
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"{name} did not answer /healthz within 90 s:\n{self.log(name)}")

    def kill(self, name: str) -> None:
        """kill -9, then reap the process so its pid names nothing any more."""
        proc = self.running.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop_all(self) -> None:
        for proc in self.running.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in list(self.running.items()):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
            self.running.pop(name)


@contextmanager
def processes(env: dict[str, str], logs: Path) -> Iterator[Processes]:
    running = Processes(env, logs)
    try:
        yield running
    finally:
        running.stop_all()
