"""The tenant wall: application scoping everywhere, and PostgreSQL row-level security behind it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.errors import IncidentError
from incident_core.model import Status
from storage.engine import scope_to_org
from storage.rls import ORG_SETTING
from storage.tables import TENANT_TABLES
from tests.helpers import World, declare, new_org


def _seed(app: App) -> tuple[World, World, str]:
    a, b = new_org(app), new_org(app)
    declare(a, "a's secret incident")
    b_inc = declare(b, "b's secret incident").state
    uc.add_note(deps=b.deps, org_id=b.org.id, incident_id=b_inc.incident_id, actor="u", text="b only")
    app.directory.create_project(b.org.id, "b-project")
    app.directory.issue_token(b.org.id)
    return a, b, b_inc.incident_id


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_session_without_org_sees_no_tenant_rows(pg_app: App, table: str) -> None:
    _seed(pg_app)
    with pg_app.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_org_a_cannot_read_org_b_even_with_handwritten_sql(pg_app: App, table: str) -> None:
    a, b, _ = _seed(pg_app)
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, a.org.id)
        rows = conn.execute(sa.text(f"SELECT org_id FROM {table} WHERE org_id = :b OR true"), {"b": b.org.id}).all()
        assert all(r.org_id == a.org.id for r in rows)


def test_org_a_cannot_write_org_b_rows(pg_app: App) -> None:
    a, b, b_incident = _seed(pg_app)
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, a.org.id)
        assert conn.execute(sa.text("UPDATE incidents SET title = 'pwned' WHERE id = :i"),
                            {"i": b_incident}).rowcount == 0
        assert conn.execute(sa.text("DELETE FROM events WHERE stream_id = :i"), {"i": b_incident}).rowcount == 0
    with pytest.raises(DBAPIError, match="row-level security"), pg_app.engine.begin() as conn:
        scope_to_org(conn, a.org.id)
        conn.execute(sa.text(
            "INSERT INTO events (org_id, stream_id, stream_version, type, data, metadata, occurred_at, "
            "recorded_at, actor) VALUES (:b, :i, 99, 'NoteAdded', '{}', '{}', now(), now(), 'x')"),
            {"b": b.org.id, "i": b_incident})
    assert pg_app.queries.get(b.org.id, b_incident).title == "b's secret incident"  # type: ignore[union-attr]


def test_app_role_does_not_own_tables_and_cannot_bypass(pg_app: App) -> None:
    with pg_app.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar() == "revenant_app"
        owners = conn.execute(sa.text(
            "SELECT tablename, tableowner, rowsecurity FROM pg_tables WHERE schemaname = 'public'")).all()
        forced = dict(conn.execute(sa.text(
            "SELECT relname, relforcerowsecurity FROM pg_class WHERE relname = ANY(:t)"),
            {"t": list(TENANT_TABLES)}).all())
    assert all(o.tableowner != "revenant_app" for o in owners)
    assert all(forced[t] for t in TENANT_TABLES)
    with pytest.raises(DBAPIError), pg_app.engine.connect() as conn:
        conn.execute(sa.text("ALTER TABLE events DISABLE ROW LEVEL SECURITY"))


def test_webhook_token_is_bound_to_its_org(app: App) -> None:
    a, b = new_org(app), new_org(app)
    token = app.directory.issue_token(a.org.id)
    owner = app.directory.authenticate_token(token)
    assert owner is not None and owner.org_id == a.org.id
    forged = token.replace(a.org.id, b.org.id)
    assert app.directory.authenticate_token(forged) is None
    assert app.directory.authenticate_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert app.directory.authenticate_token("garbage") is None


def test_token_rotation_keeps_old_token_for_the_grace_period(app: App) -> None:
    from datetime import timedelta

    w = new_org(app)
    old = app.directory.issue_token(w.org.id)
    new = app.directory.rotate_token(w.org.id, grace=timedelta(hours=1))
    assert app.directory.authenticate_token(old) is not None
    assert app.directory.authenticate_token(new) is not None
    newest = app.directory.rotate_token(w.org.id, grace=timedelta(seconds=0))
    assert app.directory.authenticate_token(old) is None
    assert app.directory.authenticate_token(new) is None
    assert app.directory.authenticate_token(newest) is not None


OPS = st.lists(st.tuples(st.sampled_from(["declare", "note", "status", "peek"]), st.integers(0, 2),
                         st.integers(0, 2)), min_size=1, max_size=12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_random_operations_on_three_orgs_never_leak(app: App, ops: list[tuple[str, int, int]]) -> None:
    worlds = [new_org(app) for _ in range(3)]
    owned: dict[str, list[str]] = {w.org.id: [] for w in worlds}
    for op, who, target in ops:
        w, other = worlds[who], worlds[target]
        if op == "declare":
            owned[w.org.id].append(declare(w).state.incident_id)
            continue
        candidates = owned[other.org.id]
        if not candidates:
            continue
        incident = candidates[-1]
        try:
            if op == "note":
                uc.add_note(deps=w.deps, org_id=w.org.id, incident_id=incident, actor="u", text="x")
            elif op == "status":
                uc.change_status(deps=w.deps, org_id=w.org.id, incident_id=incident, actor="u",
                                 status=Status.IDENTIFIED)
            else:
                seen = app.queries.get(w.org.id, incident)
                assert (seen is not None) == (w is other)
        except IncidentError:
            assert w is not other or op == "status"
    for w in worlds:
        listed = {s.incident_id for s in app.queries.list_incidents(w.org.id)}
        assert listed == set(owned[w.org.id])
        for incident in listed:
            assert all(e.org_id == w.org.id for e in app.queries.timeline(w.org.id, incident))
        with app.engine.begin() as conn:
            scope_to_org(conn, w.org.id)
            for table in TENANT_TABLES:
                org_ids = {r[0] for r in conn.execute(sa.text(f"SELECT org_id FROM {table}"))}
                if app.engine.dialect.name == "postgresql":
                    assert org_ids <= {w.org.id}, f"{table} leaked rows of another org"


def test_org_setting_name_is_what_policies_read() -> None:
    assert ORG_SETTING == "app.org_id"


def test_outbox_scan_lists_due_orgs_but_reveals_no_payloads(pg_app: App) -> None:
    a, b, _ = _seed(pg_app)
    due = set(pg_app.outbox.due_orgs())
    assert {a.org.id, b.org.id} <= due
    with pg_app.engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('app.outbox_scan', 'on', true)"))  # the old scan switch: gone
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar() == 0
        assert conn.execute(sa.text("UPDATE outbox SET attempts = 99")).rowcount == 0
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar() == 0
