"""A delivering process for the multi-process tests: `python -m tests.bot.delivery_child URL DATA_DIR LOG ORG…`.

Its subscribers append one line per call to LOG (`call NAME KEY`) and, for `post`, an idempotent post
(`post KEY`, written only if that key was never posted: find before create). With HANG_KEY set, the
`post` subscriber hangs forever right after posting that key (the test kills the process there).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from bot.bootstrap import bootstrap
from bot.delivery import Deliverer
from bot.settings import Settings
from storage.outbox import PendingMessage

TOPIC = "test.delivery"


def main() -> None:
    url, data_dir, log, *orgs = sys.argv[1:]
    hang = os.environ.get("HANG_KEY")
    settings = Settings(data_dir=Path(data_dir), database_url=url)  # type: ignore[call-arg]
    app = bootstrap(settings, migrate=False)
    path = Path(log)

    def write(line: str, *, unless_posted: str | None = None) -> None:
        with path.open("a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            if unless_posted is None or f"post {unless_posted}\n" not in f.read():
                f.write(line + "\n")
                f.flush()

    def post(msg: PendingMessage) -> None:
        write(f"call post {msg.key} {os.getpid()}")
        write(f"post {msg.key}", unless_posted=msg.key)
        if msg.key == hang:
            time.sleep(3600)

    def audit(msg: PendingMessage) -> None:
        write(f"call audit {msg.key} {os.getpid()}")

    post.subscriber_name = "post"  # type: ignore[attr-defined]
    audit.subscriber_name = "audit"  # type: ignore[attr-defined]
    d = Deliverer(app.outbox, {TOPIC: [post, audit]}, threads=2, lease=timedelta(seconds=float(
        os.environ.get("LEASE_SECONDS", "20"))))
    write(f"ready {os.getpid()}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(app.outbox.pending(o) for o in orgs):
        d.run_pass()
        time.sleep(0.05)
    d.stop()
    write(f"done {os.getpid()}")


if __name__ == "__main__":
    main()
