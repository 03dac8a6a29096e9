"""Nothing accepted is lost when `revenant serve` is killed mid-batch (PostgreSQL, a real process).

Sixteen clients post Alertmanager groups at once; the server is killed with SIGKILL while deliveries are
in flight (some inside a group-committed transaction). Every delivery that got a 202 has all of its
signals recorded; incident numbers are unique and contiguous. A restarted server then receives every
delivery again (what a sender does after a timeout or a refused connection): the ones recorded before
are absorbed, the others recorded once, and no signal is recorded twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from storage.engine import scope_to_org
from tests.bot.processes import environment, processes
from tests.conftest import fresh_postgres, make_app
from tests.helpers import post_hook

DELIVERIES = 160
ALERTS = 10  # per delivery
KILL_AFTER = 40  # 202s seen before the kill
T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    yield from fresh_postgres("revenant_kill")


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    app = make_app(postgres_url, tmp_path)
    yield app
    app.close()


def group(d: int) -> dict[str, Any]:
    """Delivery `d`: ALERTS alerts of its own (unique fingerprints) over 12 services shared with other deliveries,
    so deliveries open incidents and attach to each other's."""
    alerts = []
    for a in range(ALERTS):
        n = d * ALERTS + a
        labels = {"alertname": f"Storm{n % 4}", "service": f"svc-{n % 12}", "severity": "critical",
                  "instance": f"pod-{n}"}
        starts = (T0 + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
        alerts.append({"status": "firing", "labels": labels, "annotations": {"summary": f"svc-{n % 12} down"},
                       "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"kill{n:08d}"})
    return {"version": "4", "status": "firing", "receiver": "revenant", "groupKey": f"{{}}:{{d=\"{d}\"}}",
            "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am", "alerts": alerts}


def post(url: str, token: str, body: dict[str, Any]) -> int | None:
    """The status, or None when the connection failed or was cut before an answer."""
    try:
        return post_hook(url, token, "alertmanager", body, timeout=60)
    except OSError:
        return None


def recorded(app: App, org_id: str) -> dict[str, int]:
    """Fingerprint → how many signal events carry it."""
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        rows = conn.execute(sa.text(
            "SELECT data->'signal'->>'fingerprint' AS fp, count(*) AS n FROM events WHERE org_id = :o "
            "AND type IN ('SignalAttached', 'SignalIgnored') GROUP BY 1"), {"o": org_id}).all()
    return {r.fp: r.n for r in rows}


def numbers(app: App, org_id: str) -> list[int]:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return sorted(r[0] for r in conn.execute(sa.text("SELECT number FROM incidents WHERE org_id = :o"),
                                                  {"o": org_id}))


def fingerprints(d: int) -> set[str]:
    return {a["fingerprint"] for a in group(d)["alerts"]}


def test_every_202_survives_a_kill_9_mid_batch_and_retries_are_absorbed(pg: App, tmp_path: Path) -> None:
    org_id = pg.directory.create_org("kill-9").id
    token = pg.directory.issue_token(org_id)
    env = environment(pg.settings.data_dir, str(pg.settings.database_url))
    statuses: dict[int, int | None] = {}
    accepted = threading.Event()
    with processes(env, tmp_path) as procs:
        url = procs.serve("serve-1")

        def send(d: int) -> None:
            statuses[d] = post(url, token, group(d))
            if sum(1 for s in statuses.values() if s == 202) >= KILL_AFTER:
                accepted.set()

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(send, d) for d in range(DELIVERIES)]
            assert accepted.wait(120), f"fewer than {KILL_AFTER} deliveries accepted: {procs.log('serve-1')}"
            procs.kill("serve-1")  # SIGKILL while other deliveries are in flight
            for f in futures:
                f.result()
        ok = {d for d, s in statuses.items() if s == 202}
        lost = set(range(DELIVERIES)) - ok
        assert lost, "the kill came after every delivery was answered: nothing was in flight"
        seen = recorded(pg, org_id)
        for d in ok:  # every 202 has all of its signals
            assert fingerprints(d) <= seen.keys(), f"delivery {d} got a 202 but lost signals"
        assert all(n == 1 for n in seen.values())
        first = numbers(pg, org_id)
        assert first == list(range(1, len(first) + 1))

        url = procs.serve("serve-2")  # the senders retry everything that got no 202, and some that did
        with ThreadPoolExecutor(16) as pool:
            again = list(pool.map(lambda d: post(url, token, group(d)), sorted(lost) + sorted(ok)[:20]))
        assert set(again) == {202}, again
    seen = recorded(pg, org_id)
    assert seen.keys() == set().union(*(fingerprints(d) for d in range(DELIVERIES)))
    assert set(seen.values()) == {1}, "a signal was recorded twice"
    final = numbers(pg, org_id)
    assert final == list(range(1, len(final) + 1)) and final[:len(first)] == first
