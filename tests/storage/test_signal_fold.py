"""An append's signal rows folded to one per fingerprint and upserted in one statement (migration 0016_pgstate)
leave the `signals` rows that upserting each row in turn leaves, on both databases."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from storage.engine import scope_to_org
from storage.pg_append import append_statement
from storage.signal_projection import SIGNALS, _upsert, fold_signals
from tests.helpers import new_org

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _rows(org: str, prefix: str, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows already stored, then an append's rows: fingerprints repeat, incidents and severities come and go."""
    rng = random.Random(seed)
    clock = itertools.count()

    def row(fp: int) -> dict[str, Any]:
        at = T0 + timedelta(seconds=next(clock))
        return {"org_id": org, "fingerprint": f"{prefix}{fp}", "incident_id": rng.choice([None, "inc-a", "inc-b"]),
                "source": rng.choice(["alertmanager", "grafana"]), "title": f"title {rng.randrange(100)}",
                "status": rng.choice(["firing", "resolved"]), "severity": rng.choice(["", "critical", "warning"]),
                "service": rng.choice([None, "api", "db"]), "first_seen_at": at, "last_seen_at": at, "deliveries": 1,
                "last_decision": f"decision {rng.randrange(100)}"}

    return [row(fp) for fp in range(3)], [row(rng.randrange(6)) for _ in range(20)]


def _stored(conn: sa.Connection, org: str, prefix: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(SIGNALS).where(SIGNALS.c.org_id == org, SIGNALS.c.fingerprint.startswith(prefix))
                        .order_by(SIGNALS.c.fingerprint)).mappings().all()
    return [{**r, "fingerprint": r["fingerprint"].removeprefix(prefix),
             **{k: r[k].astimezone(UTC) if r[k].tzinfo else r[k].replace(tzinfo=UTC)
                for k in ("first_seen_at", "last_seen_at")}} for r in rows]


@pytest.mark.parametrize("seed", range(4))
def test_folded_rows_upsert_as_each_row_in_turn(app: App, seed: int) -> None:
    org = new_org(app).org.id
    earlier, append = _rows(org, "turn-", seed)
    assert len(fold_signals(append)) < len(append)  # fingerprints repeat within the append
    with app.engine.begin() as conn:
        scope_to_org(conn, org)
        upsert = _upsert(conn, SIGNALS)
        for prefix in ("turn-", "fold-"):
            for row in earlier:
                conn.execute(upsert, {**row, "fingerprint": row["fingerprint"].replace("turn-", prefix)})
        for row in append:  # as revenant_append's loop did: one upsert per row
            conn.execute(upsert, row)
        conn.execute(upsert, fold_signals([{**r, "fingerprint": r["fingerprint"].replace("turn-", "fold-")}
                                           for r in append]))
        turn, fold = _stored(conn, org, "turn-"), _stored(conn, org, "fold-")
    assert turn == fold
    assert max(r["deliveries"] for r in fold) > 2


def test_the_call_carries_one_row_per_fingerprint() -> None:
    _, append = _rows("org", "fp-", 7)
    _, params = append_statement(org_id="org", incident_id="inc", expected_version=1, events=[], projection={
        "state": {}}, outbox=[], keys=[], keys_before=None, signals=append, tail=_tail(), payloads=[])
    sent = __import__("json").loads(params["signals"])
    assert len({r["fingerprint"] for r in sent}) == len(sent) == len(fold_signals(append))
    assert sum(r["deliveries"] for r in sent) == len(append)


def _tail() -> Any:
    from storage.signal_tail import SignalTail

    return SignalTail()
