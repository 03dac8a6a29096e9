"""A real Alertmanager (Debian's prometheus-alertmanager) notifies a real `revenant serve` on loopback.

Alerts go in through Alertmanager's own API (`POST /api/v2/alerts`), its webhook receiver (bearer
credentials) delivers them through a one-shot 503 front, so Alertmanager's own retry is exercised.
Skipped when the binary is missing, unless REVENANT_REQUIRE_ALERTMANAGER=1 (CI sets it when installed).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
REQUIRED = os.environ.get("REVENANT_REQUIRE_ALERTMANAGER") == "1"
REVENANT = str(Path(sys.executable).with_name("revenant"))
DEADLINE = 90.0  # seconds any wait below may take before the test fails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check, timeout: float = DEADLINE):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class FlakyFront:
    """Forwards webhook POSTs to revenant; answers the first one 503, as a briefly overloaded server would."""

    def __init__(self, target: str) -> None:
        self.target, self.statuses, self.lock = target, [], threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with front.lock:
                    first = not front.statuses
                    if first:
                        front.statuses.append(503)
                if first:
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.end_headers()
                    return
                request = urllib.request.Request(front.target + self.path, data=body, method="POST", headers={
                    "Content-Type": "application/json", "Authorization": self.headers.get("Authorization", "")})
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as exc:
                    status, payload = exc.code, exc.read()
                with front.lock:
                    front.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([REVENANT, *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict]:  # type: ignore[type-arg]
    if BINARY is None:
        if REQUIRED:
            pytest.fail("REVENANT_REQUIRE_ALERTMANAGER=1 but no prometheus-alertmanager binary: "
                        "apt-get install prometheus-alertmanager")
        pytest.skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    env = {**os.environ, "REVENANT_DATA_DIR": str(tmp_path / "data")}
    for var in ("REVENANT_DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MICROSOFT_APP_ID"):
        env.pop(var, None)
    token = json.loads(cli(env, "org", "create", "acme", "--json"))["webhook_token"]
    port = free_port()
    serve_log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen([REVENANT, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                             stdout=serve_log, stderr=subprocess.STDOUT)
    front = FlakyFront(f"http://127.0.0.1:{port}")
    am_port = free_port()
    (tmp_path / "alertmanager.yml").write_text(f"""
route:
  receiver: revenant
  group_by: [namespace]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: revenant
    webhook_configs:
      - url: http://127.0.0.1:{front.port}/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
""")
    am_log = (tmp_path / "alertmanager.log").open("w")
    alertmanager = subprocess.Popen(
        [BINARY, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
        stdout=am_log, stderr=subprocess.STDOUT)
    try:
        wait_for("revenant serve", lambda: _get(f"http://127.0.0.1:{port}/healthz"))
        wait_for("alertmanager", lambda: _get(f"http://127.0.0.1:{am_port}/-/ready"))
        yield {"env": env, "am": f"http://127.0.0.1:{am_port}", "front": front, "logs": tmp_path}
    finally:
        for process in (alertmanager, serve):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        front.close()
        serve_log.close()
        am_log.close()


def _get(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def crash(namespace: str, pod: str, starts: datetime, ends: datetime | None = None) -> dict:  # type: ignore[type-arg]
    alert = {"labels": {"alertname": "KubePodCrashLooping", "namespace": namespace, "pod": pod,
                        "container": pod.split("-")[0], "job": "kube-state-metrics", "severity": "critical"},
             "annotations": {"summary": "Pod is crash looping.",
                             "description": f"Pod {namespace}/{pod} is in waiting state (reason: \"CrashLoopBackOff\")."},
             "startsAt": starts.isoformat().replace("+00:00", "Z"),
             "generatorURL": "http://prometheus.example.com/graph?g0.expr=kube_pod_container_status_waiting_reason"}
    if ends is not None:
        alert["endsAt"] = ends.isoformat().replace("+00:00", "Z")
    return alert


def post_alerts(am: str, alerts: list[dict]) -> None:  # type: ignore[type-arg]
    request = urllib.request.Request(f"{am}/api/v2/alerts", data=json.dumps(alerts).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def incidents(env: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(cli(env, "incidents", "list", "--org", "acme", "--json"))


def timeline(env: dict[str, str], ref: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(cli(env, "incidents", "timeline", "--org", "acme", ref, "--json"))


def test_real_alertmanager_groups_titles_resolves_and_says_all_clear(stack: dict) -> None:  # type: ignore[type-arg]
    env, am, front = stack["env"], stack["am"], stack["front"]
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    firing = [crash("shop", "checkout-7d9f", starts), crash("shop", "checkout-8e0a", starts),
              crash("billing", "invoicer-5c6d", starts)]
    post_alerts(am, firing)

    def grouped() -> list[dict] | None:  # type: ignore[type-arg]
        found = incidents(env)
        counts = sorted(i["signals"] for i in found)
        return found if counts == [1, 2] else None

    found = wait_for("two incidents (shop with 2 alerts, billing with 1)", grouped)
    assert 503 in front.statuses, "the first delivery was answered 503"
    titles = sorted(i["title"] for i in found)
    assert titles[0] == "KubePodCrashLooping — Pod is crash looping (billing/invoicer-5c6d)"
    assert titles[1].startswith("KubePodCrashLooping — Pod is crash looping (shop/checkout-")
    assert all(i["status"] == "triggered" and i["all_clear"] is False for i in found)

    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    post_alerts(am, [crash(a["labels"]["namespace"], a["labels"]["pod"], starts, ended) for a in firing])
    cleared = wait_for("both incidents all clear",
                       lambda: (lambda found: found if all(i["all_clear"] for i in found) else None)(incidents(env)))
    assert len(cleared) == 2
    for incident in cleared:
        events = timeline(env, incident["id"])
        types = [e["type"] for e in events]
        attached = [e["data"]["signal"]["fingerprint"] for e in events if e["type"] == "SignalAttached"]
        assert len(attached) == len(set(attached)) == incident["signals"], "no duplicate across retries"
        assert types.count("SignalResolved") == incident["signals"]
        assert types.count("AllClearReached") == 1
    assert front.statuses.count(503) == 1 and set(front.statuses) <= {202, 503}
