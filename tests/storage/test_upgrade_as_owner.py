"""`revenant db upgrade` run the documented way on PostgreSQL: by a CREATEROLE login that owns the database and
is not a superuser (docs/configuration.md). Row-level security is FORCEd on tenant tables, so the owner's own
statements see tenant rows only inside an org's scope: a data migration that reads them unscoped silently moves
nothing. A superuser (what the other tests migrate as) bypasses row-level security and would hide that."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from incident_core.model import Severity, Status
from incident_core.state import IncidentState
from storage.engine import make_engine, normalize_url, scope_to_org
from storage.migrate import alembic_config, current, upgrade
from storage.queries import SqlIncidentQueries
from storage.unit_of_work import INCIDENTS, ORGS
from tests.conftest import ADMIN_URL, require_postgres

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
# every head before the reminder index (0009_i15ob), the signal tail (0010_i18s) and the batched look (0010_i19t)
BEFORE = ("0008_i16", "0008_i17", "0009_i12a", "0009_i12r", "0009_i15o", "0009_i18")
LONG_AGO = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def owned_database() -> Iterator[str]:
    """An empty database owned by a fresh `CREATE ROLE … LOGIN CREATEROLE` (not a superuser); its URL."""
    require_postgres()
    admin = sa.create_engine(normalize_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:8]
    role, database = f"revenant_owner_{suffix}", f"revenant_owned_{suffix}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN NOSUPERUSER CREATEROLE"))
        conn.execute(sa.text(f'CREATE DATABASE "{database}" OWNER {role}'))
    head, _, tail = normalize_url(ADMIN_URL).rpartition("@")
    try:
        yield f"{head.rsplit('//', 1)[0]}//{role}@{tail.rsplit('/', 1)[0]}/{database}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()


def old_state(org: str, incident: str, number: int, status: Status, at: datetime = NOW) -> IncidentState:
    """A state document as the code before migration 0010_i18s wrote it: its tail inside."""
    recent = tuple({"source": "alertmanager", "kind": "alert", "status": "firing", "severity": "critical",
                    "title": f"{org} api slow ({i})", "service": "api", "fingerprint": f"{org}-fp{i}",
                    "at": NOW.isoformat()} for i in range(3))
    return IncidentState(incident_id=incident, org_id=org, project_id=None, number=number, title=f"{org} api slow",
                         status=status, severity=Severity.SEV2, created_at=at, updated_at=at, version=4,
                         declared_by="signal:alertmanager", signal_count=3, recent_signals=recent,
                         metric_points=((NOW.isoformat(), "p99", 2.5),), log_lines={f"{org} timeout": 2},
                         correlation_keys={"service=api": NOW.isoformat()})


def test_the_owner_upgrades_existing_tenants_data_under_forced_row_level_security(owned_database: str) -> None:
    owner = make_engine(owned_database, app_role=None)
    try:
        with owner.connect() as conn:
            assert conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar() is False
        for revision in BEFORE:
            command.upgrade(alembic_config(owner), revision)
        states = {org: [old_state(org, f"{org}-open", 1, Status.TRIGGERED), old_state(org, f"{org}-closed", 2, Status.CLOSED),
                         old_state(org, f"{org}-closed-long-ago", 3, Status.CLOSED, LONG_AGO)]
                  for org in ("org-a", "org-b")}
        with owner.begin() as conn:  # written as the app wrote them: each org's rows inside its scope
            for org, written in states.items():
                conn.execute(ORGS.insert().values(id=org, name=org, default_role="responder", incident_seq=3,
                                                  settings={}, created_at=NOW))
                scope_to_org(conn, org)
                for state in written:
                    conn.execute(INCIDENTS.insert().values(
                        id=state.incident_id, org_id=org, project_id=None, number=state.number, title=state.title,
                        status=state.status.value, severity="SEV2", commander=None, version=4,
                        created_at=state.created_at, updated_at=state.updated_at, state=state.to_dict()))

        upgrade(owner)  # what `revenant db upgrade` runs

        # 0011_i18r (the pattern-key index) follows 0010_i18s; 0012_batch (the lock + candidates function) follows it,
        # then 0013_pgcost (lz4 for the ingest's documents), 0013_outbox (the pending outbox indexes), 0014_teams
        # (people's Teams accounts), 0015_delivery (the claim's index on undelivered rows), 0016_retention (deliveries
        # by message), 0014_cand (the bounded candidate lookup), then 0015_keyparam (its lists as JSON), 0015_pgcost2
        # (the keys by age) and 0016_pgstate (an append's signal rows in one statement)
        heads = current(owner)
        assert heads is not None and all(h in heads for h in ("0016_retention", "0015_keyparam", "0016_pgstate",
                                                              "0010_i19t"))
    finally:
        owner.dispose()
    app = make_engine(owned_database)  # the app's connections: SET ROLE revenant_app, row-level security applies
    try:
        queries = SqlIncidentQueries(app)
        for org, written in states.items():
            for state in written:
                read = queries.get(org, state.incident_id)
                assert read is not None and read.to_dict() == state.to_dict(), f"{state.incident_id} lost its tail"
            with app.begin() as conn:
                scope_to_org(conn, org)
                documents = conn.execute(sa.select(INCIDENTS.c.state)).scalars().all()
                due = conn.execute(sa.text("SELECT incident_id FROM reminder_due ORDER BY 1")).scalars().all()
            assert len(documents) == 3 and not any({"recent_signals", "log_lines"} & set(d) for d in documents)
            # the reminder index holds every open incident and those closed within the archive window
            assert due == [f"{org}-closed", f"{org}-open"]
    finally:
        app.dispose()
