"""One event-store contract, run against embedded SQLite and PostgreSQL (the `app` fixture)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from incident_core import commands as cmd
from incident_core import usecases as uc
from incident_core.aggregate import decide
from incident_core.errors import ConcurrencyConflict, NotFound
from incident_core.model import IncidentRole, Severity, Status
from incident_core.state import apply_all
from storage.engine import scope_to_org
from storage.projections import rebuild, snapshot
from storage.unit_of_work import EVENTS, OUTBOX
from tests.helpers import declare, new_org


def count(app: App, org_id: str, table: sa.Table) -> int:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.org_id == org_id)).scalar())


def test_append_then_read_back(app: App) -> None:
    w = new_org(app)
    inc = declare(w, "Checkout errors", severity=Severity.SEV2).state
    uc.add_note(deps=w.deps, org_id=w.org.id, incident_id=inc.incident_id, actor="u:bob", text="looking")
    uc.change_status(deps=w.deps, org_id=w.org.id, incident_id=inc.incident_id, actor="u:bob",
                     status=Status.IDENTIFIED, note="bad deploy")
    got = app.queries.get(w.org.id, "INC-1")
    assert got is not None and got.status is Status.IDENTIFIED and got.version == 3
    timeline = app.queries.timeline(w.org.id, inc.incident_id)
    assert [e.type_name for e in timeline] == ["IncidentDeclared", "NoteAdded", "StatusChanged"]
    assert [e.version for e in timeline] == [1, 2, 3]
    assert timeline[1].text == "looking"  # type: ignore[attr-defined]
    assert timeline[0].occurred_at.tzinfo is not None
    assert app.queries.get(w.org.id, inc.incident_id) == got
    assert app.queries.get(w.org.id, "inc-1") == got
    assert app.queries.get(w.org.id, "INC-2") is None


def test_human_numbers_are_per_org(app: App) -> None:
    a, b = new_org(app), new_org(app)
    assert [declare(a).state.human_id for _ in range(3)] == ["INC-1", "INC-2", "INC-3"]
    assert declare(b).state.human_id == "INC-1"


def test_stale_expected_version_raises_conflict(app: App) -> None:
    w = new_org(app)
    inc = declare(w).state
    events = decide(inc, cmd.AddNote(org_id=w.org.id, incident_id=inc.incident_id, actor="u", text="one",
                                     occurred_at=inc.created_at))
    with w.deps.uow(w.org.id) as tx:
        tx.append(events, expected_version=1, state=apply_all(inc, events))  # type: ignore[arg-type]
    with pytest.raises(ConcurrencyConflict), w.deps.uow(w.org.id) as tx:
        tx.append(events, expected_version=1, state=apply_all(inc, events))  # type: ignore[arg-type]
    assert len(app.queries.timeline(w.org.id, inc.incident_id)) == 2


def test_idempotency_key_returns_first_result_and_writes_nothing(app: App) -> None:
    w = new_org(app)
    first = declare(w).state
    r1 = uc.add_note(deps=w.deps, org_id=w.org.id, incident_id=first.incident_id, actor="u", text="a",
                     idempotency_key="slack:Ev123")
    before = (count(app, w.org.id, EVENTS), count(app, w.org.id, OUTBOX))
    r2 = uc.add_note(deps=w.deps, org_id=w.org.id, incident_id=first.incident_id, actor="u", text="a",
                     idempotency_key="slack:Ev123")
    assert r2.duplicate and not r1.duplicate
    assert [e.version for e in r2.events] == [e.version for e in r1.events]
    assert (count(app, w.org.id, EVENTS), count(app, w.org.id, OUTBOX)) == before
    other = new_org(app)  # the key is unique per org, not global
    o_inc = declare(other).state
    r3 = uc.add_note(deps=other.deps, org_id=other.org.id, incident_id=o_inc.incident_id, actor="u", text="a",
                     idempotency_key="slack:Ev123")
    assert not r3.duplicate


def test_declare_with_idempotency_key_opens_one_incident(app: App) -> None:
    w = new_org(app)
    results = [uc.declare_incident(deps=w.deps, org_id=w.org.id, actor="u", title="x",
                                   idempotency_key="am:group-1") for _ in range(3)]
    assert len({r.state.incident_id for r in results}) == 1
    assert len(app.queries.list_incidents(w.org.id)) == 1


def test_events_projection_and_outbox_commit_together(app: App) -> None:
    w = new_org(app)
    inc = declare(w).state
    before = (count(app, w.org.id, EVENTS), count(app, w.org.id, OUTBOX))
    events = decide(inc, cmd.AddNote(org_id=w.org.id, incident_id=inc.incident_id, actor="u", text="x",
                                     occurred_at=inc.created_at))
    with pytest.raises(RuntimeError), w.deps.uow(w.org.id) as tx:
        tx.append(events, expected_version=1, state=apply_all(inc, events))  # type: ignore[arg-type]
        raise RuntimeError("crash after append, before commit")
    assert (count(app, w.org.id, EVENTS), count(app, w.org.id, OUTBOX)) == before
    assert app.queries.get(w.org.id, inc.incident_id).version == 1  # type: ignore[union-attr]


def test_every_append_leaves_an_outbox_message(app: App) -> None:
    w = new_org(app)
    inc = declare(w).state
    uc.add_note(deps=w.deps, org_id=w.org.id, incident_id=inc.incident_id, actor="u", text="x")
    assert app.outbox.pending(w.org.id) == 2
    seen: list[str] = []
    assert app.outbox.process(w.org.id, lambda m: seen.append(m.key)) == 2
    assert seen == [f"changed:{inc.incident_id}:1", f"changed:{inc.incident_id}:2"]
    assert app.outbox.pending(w.org.id) == 0


def test_outbox_failure_is_retried_later(app: App) -> None:
    w = new_org(app)
    declare(w)

    def boom(_msg: object) -> None:
        raise ConnectionError("slack down")

    assert app.outbox.process(w.org.id, boom) == 0
    assert app.outbox.pending(w.org.id) == 1
    assert app.outbox.process(w.org.id, lambda m: None) == 0  # backing off: not due yet


def test_unknown_incident_and_org_scoping(app: App) -> None:
    a, b = new_org(app), new_org(app)
    inc = declare(a).state
    assert app.queries.get(b.org.id, inc.incident_id) is None
    assert app.queries.timeline(b.org.id, inc.incident_id) == []
    with pytest.raises(NotFound):
        uc.add_note(deps=b.deps, org_id=b.org.id, incident_id=inc.incident_id, actor="u", text="sneak")
    assert len(app.queries.timeline(a.org.id, inc.incident_id)) == 1


def test_rebuild_reproduces_projections_exactly(app: App) -> None:
    w = new_org(app)
    for i in range(3):
        s = declare(w, f"incident {i}").state
        uc.assign_role(deps=w.deps, org_id=w.org.id, incident_id=s.incident_id, actor="u",
                       role=IncidentRole.COMMANDER, assignee="u:zoe")
        uc.apply_command(deps=w.deps, check_role=False, command=cmd.AttachSignal(
            org_id=w.org.id, incident_id=s.incident_id, actor="signal", occurred_at=w.deps.clock.now(),
            signal={"title": "5xx", "kind": "log", "service": "api", "correlation_keys": ["service=api"],
                    "values": [{"name": "rate", "value": 0.25}]}, reason="test"))
        for status in (Status.MITIGATED, Status.RESOLVED)[: i + 1]:
            uc.change_status(deps=w.deps, org_id=w.org.id, incident_id=s.incident_id, actor="u", status=status)
    before = snapshot(app.engine, w.org.id)
    report = rebuild(app.engine, org_ids=[w.org.id])
    assert report.incidents == 3
    assert snapshot(app.engine, w.org.id) == before
    assert declare(w).state.human_id == "INC-4"
