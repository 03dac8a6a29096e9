"""Migration 0010_i18s moves the tail of existing state documents into rows; the state reads back the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from incident_core.model import Severity, Status
from incident_core.state import IncidentState
from storage.engine import make_engine
from storage.migrate import alembic_config
from storage.queries import SqlIncidentQueries
from storage.unit_of_work import INCIDENTS, ORGS

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def test_existing_documents_keep_their_recent_signals_points_and_log_lines(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0009_i18")  # the schema before the signal tail
    recent = tuple({"source": "alertmanager", "kind": "alert", "status": s, "severity": "critical",
                    "title": f"api slow ({i})", "service": "api", "fingerprint": f"fp{i}", "at": NOW.isoformat()}
                   for i, s in enumerate(["firing", "resolved", "firing"]))
    old = IncidentState(incident_id="inc1", org_id="org1", project_id=None, number=1, title="api slow",
                        status=Status.TRIGGERED, severity=Severity.SEV2, created_at=NOW, updated_at=NOW, version=9,
                        declared_by="signal:alertmanager", signal_count=7, recent_signals=recent,
                        metric_points=((NOW.isoformat(), "p99", 2.5), (NOW.isoformat(), "p99", 0.1 + 0.2)),
                        log_lines={"timeout talking to db": 3, "connection reset": 1},
                        correlation_keys={"service=api": NOW.isoformat()})
    with engine.begin() as conn:
        conn.execute(ORGS.insert().values(id="org1", name="old", default_role="responder", incident_seq=1,
                                          settings={}, created_at=NOW))
        conn.execute(INCIDENTS.insert().values(id="inc1", org_id="org1", project_id=None, number=1, title="api slow",
                                               status="triggered", severity="SEV2", commander=None, version=9,
                                               created_at=NOW, updated_at=NOW, state=old.to_dict()))
    command.upgrade(alembic_config(engine), "heads")
    with engine.begin() as conn:
        document = conn.execute(sa.select(INCIDENTS.c.state)).scalar_one()
        rows = conn.execute(sa.text("SELECT seq FROM incident_recent_signals ORDER BY seq")).scalars().all()
    assert not {"recent_signals", "metric_points", "log_lines"} & set(document)
    assert rows == [5, 6, 7]  # ordinals continue from the signal count: the next attach is 8
    state = SqlIncidentQueries(engine).get("org1", "inc1")
    assert state is not None and state.to_dict() == old.to_dict()
