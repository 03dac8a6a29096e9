"""PostgreSQL: a batch's key locks are the advisory locks named "<org>:<key>", whichever statement takes them (the
candidate lookup's function, or the plain lock statement when another statement comes first): the two paths
exclude each other, and another transaction cannot take a locked key's lock meanwhile."""

from __future__ import annotations

from typing import cast

import psycopg
import pytest

from bot.bootstrap import App
from storage.unit_of_work import SqlTransaction
from tests.helpers import new_org

KEYS = ["service=api", "alertname=High'Latency", "label=\"quoted\", with, commas", "ünïcode=ключ"]


def _held_elsewhere(app: App, names: list[str]) -> list[bool]:
    """For each lock name, True when another session cannot take that advisory lock now."""
    url = app.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as other:
        return [not other.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [n]).fetchone()[0]
                for n in names]


@pytest.mark.parametrize("first", ["candidate lookup", "another statement"])
def test_a_batch_holds_the_lock_of_each_of_its_keys_and_no_other(pg_app: App, first: str) -> None:
    w = new_org(pg_app)
    names = [f"{w.org.id}:{k}" for k in KEYS]
    with pg_app.deps.uow(w.org.id) as raw:
        tx = cast(SqlTransaction, raw)
        tx.lock_keys(KEYS)
        if first == "candidate lookup":
            assert tx.recent_candidates(KEYS, project_id=None, per_key=2).incidents == ()
        else:
            assert tx.stream_version("no-such-stream") == 0
        held = _held_elsewhere(pg_app, [*names, f"{w.org.id}:service=db", f"other-org:{KEYS[0]}"])
    assert held == [True] * len(KEYS) + [False, False]
    assert _held_elsewhere(pg_app, names) == [False] * len(KEYS)  # released at commit
