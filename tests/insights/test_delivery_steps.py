"""delivery_steps: the first record of a step wins, steps are per org, and PostgreSQL's row-level security keeps
one org's steps from another even with hand-written SQL."""

from __future__ import annotations

import sqlalchemy as sa

from bot.bootstrap import App
from storage.delivery_steps import SqlDeliverySteps
from storage.engine import scope_to_org


def test_steps_are_recorded_once_and_per_org(app: App) -> None:
    steps = SqlDeliverySteps(app.engine)
    a, b = app.directory.create_org("steps-a"), app.directory.create_org("steps-b")
    assert steps.record(a.id, "digest:slack:org:1", "uploaded", {"file_id": "F1"}) == {"file_id": "F1"}
    assert steps.record(a.id, "digest:slack:org:1", "uploaded", {"file_id": "F2"}) == {"file_id": "F1"}
    steps.record(a.id, "digest:slack:org:1", "shared", {"file_id": "F1", "channel": "C1"})
    assert set(steps.steps(a.id, "digest:slack:org:1")) == {"uploaded", "shared"}
    assert steps.steps(b.id, "digest:slack:org:1") == {}  # the same key in another org is another delivery


def test_row_level_security_guards_delivery_steps(pg_app: App) -> None:
    steps = SqlDeliverySteps(pg_app.engine)
    a, b = pg_app.directory.create_org("rls-steps-a"), pg_app.directory.create_org("rls-steps-b")
    for org in (a, b):
        steps.record(org.id, "k", "uploaded", {"file_id": org.id})
    with pg_app.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM delivery_steps")).scalar() == 0
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, a.id)
        rows = conn.execute(sa.text("SELECT org_id FROM delivery_steps WHERE org_id = :b OR true"),
                            {"b": b.id}).all()
        assert [r.org_id for r in rows] == [a.id]
        assert conn.execute(sa.text("DELETE FROM delivery_steps WHERE org_id = :b"), {"b": b.id}).rowcount == 0
