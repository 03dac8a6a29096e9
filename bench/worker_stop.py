"""How long `revenant worker` takes to exit after SIGTERM, once it has delivered (the knowledge stack loaded).

Each round adds resolved incidents (`--backlog`, default 1) to an embedded data dir (an org with the demo runbooks, made on the first
round), starts `revenant worker` on it, waits for its first delivery (the knowledge loop learns from the
incident), sends SIGTERM and times the exit. The code under test is the tree on PYTHONPATH (default: this
checkout), so the same file times main's code from an archive of it:

    .venv/bin/python bench/worker_stop.py --rounds 5
    PYTHONPATH=/tmp/base /work/main/.venv/bin/python bench/worker_stop.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = """
import sys
from pathlib import Path
from bot.bootstrap import bootstrap
from bot.settings import Settings
from incident_core import usecases as uc
from incident_core.model import OrgRole, Severity, Status
app = bootstrap(Settings(), migrate=True)
try:
    org = app.directory.require_org("bench-stop")
except Exception:
    org = app.directory.create_org("bench-stop")
    app.knowledge.ingest(Path(sys.argv[1]) / "bot" / "demo_data", org.id)
app.directory.set_role(org.id, "u:alice", OrgRole.COMMANDER)
for n in range(int(sys.argv[2])):
    made = uc.declare_incident(deps=app.deps, org_id=org.id, actor="u:alice", title=f"Checkout 5xx errors {n}",
                               severity=Severity.SEV2)
    uc.change_status(deps=app.deps, org_id=org.id, incident_id=made.state.incident_id, actor="u:alice",
                     status=Status.RESOLVED)
app.close()
"""


def one_round(code: Path, data: Path, backlog: int) -> tuple[float, int]:
    """Seed, start the worker, wait for a delivery, SIGTERM; (seconds to exit, exit code)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REVENANT_", "SLACK_", "MICROSOFT_"))}
    env.update(REVENANT_DATA_DIR=str(data), REVENANT_DATABASE_URL=f"sqlite:///{data}/revenant.db",
               REVENANT_EMBEDDINGS="hashing", PYTHONPATH=str(code))
    subprocess.run([sys.executable, "-c", SEED, str(code), str(backlog)], env=env, cwd=code, check=True, capture_output=True)
    log_path = data / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen([sys.executable, "-c", "from bot.cli import main; main()", "worker"], env=env,
                                  cwd=code, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while "delivered" not in log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker delivered nothing:\n{log_path.read_text()[-2000:]}")
        time.sleep(0.02)
    time.sleep(0.5)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    code_ = worker.wait(120)
    return time.monotonic() - started, code_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backlog", type=int, default=1,
                        help="resolved incidents added per round: with more, the signal lands in a delivery pass")
    args = parser.parse_args()
    code = Path(os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or ROOT).resolve()
    with tempfile.TemporaryDirectory(prefix="revenant-stop-") as tmp:
        times = []
        for n in range(args.rounds):
            seconds, exit_code = one_round(code, Path(tmp), args.backlog)
            times.append(seconds)
            print(f"round {n + 1}: exit {seconds:.2f} s after SIGTERM (exit code {exit_code}); "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{code}: median {sorted(times)[len(times) // 2]:.2f} s, max {max(times):.2f} s over {len(times)} rounds")


if __name__ == "__main__":
    main()
