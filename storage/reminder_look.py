"""The reminder tick's look at due incidents, batched: the due incidents of a batch of orgs read with their
latest watched events, `decide` run on each, then what fired and each incident's next look written, all in
one transaction.

On PostgreSQL the read is one statement and the write another, however many orgs and incidents the batch
holds (it was five statements per due incident: 2.7 s for 1,000 at once): the functions of migration
0010_i19t, which bind the transaction to each org in turn before touching its rows, so row-level security
applies as it does to the application's own statements. SQLite runs the same reads and writes as five
statements per batch.

Exactly once: a reminder is an outbox row whose unique (org_id, key) names its slot (`ON CONFLICT DO
NOTHING`), and the next look is written only while the index row's `seq` is the one read (a change while
the tick looked keeps the incident due).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Connection

from incident_core.events import Event
from incident_core.ports import OutboxMessage
from incident_core.reminders import WATCHED_TYPES
from incident_core.state import IncidentState
from storage.engine import is_postgres
from storage.records import row_event, row_state
from storage.reminder_tables import REMINDER_DUE
from storage.unit_of_work import EVENTS, INCIDENTS, OUTBOX

RECENT = 50  # latest watched events read per incident
# (state, its latest watched events) -> (messages due now, the next look or None)
Decide = Callable[[IncidentState, list[Event]], tuple[list[OutboxMessage], datetime | None]]
Look = tuple[str, dict[str, int], Decide]  # (org, {incident id: seq read from the index}, decide)
Seen = list[tuple[IncidentState, list[Event]]]

_PG_READ = sa.text("SELECT * FROM revenant_reminder_read(:looks, :types, :recent)").bindparams(
    sa.bindparam("looks", type_=JSONB), sa.bindparam("types", type_=ARRAY(sa.Text())))
_PG_WRITE = sa.text("SELECT * FROM revenant_reminder_write(:plans, :now)").bindparams(
    sa.bindparam("plans", type_=JSONB), sa.bindparam("now", type_=sa.DateTime(timezone=True)))


@dataclass
class _Plan:
    """One org's outcome of a look: the messages to fire and every looked-at incident's next look."""

    org_id: str
    seqs: dict[str, int]
    messages: list[OutboxMessage]
    looks: dict[str, datetime | None]


def look_batch(conn: Connection, batch: Sequence[Look]) -> list[tuple[str, OutboxMessage]]:
    """Read every org's due incidents, decide, write what fired and the next looks; the (org, message) written."""
    postgres = is_postgres(conn)
    seen = _read_pg(conn, batch) if postgres else _read(conn, batch)
    plans = [_plan(org_id, seqs, decide, found) for (org_id, seqs, decide), found in zip(batch, seen, strict=True)]
    return _write_pg(conn, plans) if postgres else _write(conn, plans)


def _plan(org_id: str, seqs: dict[str, int], decide: Decide, found: Seen) -> _Plan:
    """What `decide` says for each incident read; an incident no longer found leaves the index."""
    looks: dict[str, datetime | None] = dict.fromkeys(seqs)
    messages: list[OutboxMessage] = []
    for state, recent in found:
        due, looks[state.incident_id] = decide(state, recent)
        messages += due
    return _Plan(org_id, seqs, messages, looks)


def _read_pg(conn: Connection, batch: Sequence[Look]) -> list[Seen]:
    looks = [{"org": org_id, "ids": list(seqs)} for org_id, seqs, _ in batch]
    rows = conn.execute(_PG_READ, {"looks": looks, "types": list(WATCHED_TYPES), "recent": RECENT}).all()
    found: dict[str, dict[str, tuple[IncidentState, list[Event]]]] = {org_id: {} for org_id, _, _ in batch}
    for row in rows:
        entry = found[row.r_org].setdefault(row.r_incident, (row_state(SimpleNamespace(state=row.r_state)), []))
        if row.r_position is not None:
            entry[1].append(row_event(SimpleNamespace(
                position=row.r_position, org_id=row.r_org, stream_id=row.r_incident, stream_version=row.r_version,
                type=row.r_type, data=row.r_data, metadata=row.r_metadata, occurred_at=row.r_occurred_at,
                actor=row.r_actor)))
    return [list(found[org_id].values()) for org_id, _, _ in batch]


def _write_pg(conn: Connection, plans: Sequence[_Plan]) -> list[tuple[str, OutboxMessage]]:
    payload = [{
        "org": plan.org_id,
        "messages": [{"topic": m.topic, "key": m.key, "payload": m.payload} for m in plan.messages],
        "looks": [{"incident_id": i, "seq": plan.seqs[i], "due_at": at.isoformat() if at else None}
                  for i, at in plan.looks.items()],
    } for plan in plans]
    fired = {(row.r_org, row.r_key) for row in conn.execute(_PG_WRITE, {"plans": payload, "now": datetime.now(UTC)})}
    return [(plan.org_id, m) for plan in plans for m in plan.messages if (plan.org_id, m.key) in fired]


# SQLite's statements, built once (building a statement costs more than SQLite running it). SQLite has no
# row-level security: every statement names the batch's orgs, and rows are kept only for the (org, incident)
# pairs the batch asked for.
_RECENT = (sa.select(EVENTS).where(EVENTS.c.org_id == sa.bindparam("org"), EVENTS.c.stream_id == sa.bindparam("incident"),
                                   EVENTS.c.type.in_(sa.bindparam("types", expanding=True)))
           .order_by(EVENTS.c.stream_version.desc()).limit(sa.bindparam("limit")))
_DUE_INCIDENTS = sa.select(INCIDENTS.c.org_id, INCIDENTS.c.id, INCIDENTS.c.state).where(
    INCIDENTS.c.org_id.in_(sa.bindparam("orgs", expanding=True)), INCIDENTS.c.id.in_(sa.bindparam("ids", expanding=True)))
# org_id goes through `|| ''` so that SQLite reads by the (stream_id, stream_version) index, not every event
# of the org (an org's events can be many; its due incidents' are few).
_RANKED = sa.select(EVENTS, sa.func.row_number().over(
    partition_by=(EVENTS.c.org_id, EVENTS.c.stream_id), order_by=EVENTS.c.stream_version.desc()).label("rank")).where(
    EVENTS.c.org_id.concat("").in_(sa.bindparam("orgs", expanding=True)),
    EVENTS.c.stream_id.in_(sa.bindparam("ids", expanding=True)),
    EVENTS.c.type.in_(sa.bindparam("types", expanding=True))).subquery()
_DUE_RECENT = (sa.select(_RANKED).where(_RANKED.c.rank <= sa.bindparam("limit"))
               .order_by(_RANKED.c.org_id, _RANKED.c.stream_id, _RANKED.c.stream_version))
_FIRE = (sqlite.insert(OUTBOX).on_conflict_do_nothing(index_elements=["org_id", "key"])
         .returning(OUTBOX.c.org_id, OUTBOX.c.key))
_MATCH = (REMINDER_DUE.c.org_id == sa.bindparam("b_org"), REMINDER_DUE.c.incident_id == sa.bindparam("b_incident"),
          REMINDER_DUE.c.seq == sa.bindparam("b_seq"))
_GONE = REMINDER_DUE.delete().where(*_MATCH)
_MOVED = REMINDER_DUE.update().where(*_MATCH).values(due_at=sa.bindparam("b_at"))


def recent_events(conn: Connection, org_id: str, incident_id: str, types: Sequence[str],
                  limit: int = RECENT) -> list[Event]:
    """The incident's latest events of the given types, oldest first."""
    rows = conn.execute(_RECENT, {"org": org_id, "incident": incident_id, "types": list(types), "limit": limit})
    return [row_event(r) for r in reversed(rows.all())]


def _read(conn: Connection, batch: Sequence[Look]) -> list[Seen]:
    """SQLite: the batch's due incidents in one statement, their latest watched events in another."""
    orgs = [org_id for org_id, _, _ in batch]
    ids = [incident_id for _, seqs, _ in batch for incident_id in seqs]
    asked = {(org_id, incident_id) for org_id, seqs, _ in batch for incident_id in seqs}
    states = {(r.org_id, r.id): row_state(r) for r in conn.execute(_DUE_INCIDENTS, {"orgs": orgs, "ids": ids})
              if (r.org_id, r.id) in asked}
    recent: dict[tuple[str, str], list[Event]] = {pair: [] for pair in states}
    for r in conn.execute(_DUE_RECENT, {"orgs": orgs, "ids": ids, "types": list(WATCHED_TYPES), "limit": RECENT}):
        if (r.org_id, r.stream_id) in recent:
            recent[(r.org_id, r.stream_id)].append(row_event(r))
    return [[(states[(org_id, i)], recent[(org_id, i)]) for i in seqs if (org_id, i) in states]
            for org_id, seqs, _ in batch]


def _write(conn: Connection, plans: Sequence[_Plan]) -> list[tuple[str, OutboxMessage]]:
    """SQLite: every plan's messages in one executemany (each slot once), the next looks in two more."""
    now = datetime.now(UTC)
    rows = [{"org_id": plan.org_id, "topic": m.topic, "key": m.key, "payload": m.payload, "created_at": now,
             "available_at": now, "attempts": 0} for plan in plans for m in plan.messages]
    fired = {(r.org_id, r.key) for r in conn.execute(_FIRE, rows)} if rows else set()
    looks = [(plan, i, at) for plan in plans for i, at in plan.looks.items()]
    gone = [{"b_org": plan.org_id, "b_incident": i, "b_seq": plan.seqs[i]} for plan, i, at in looks if at is None]
    moved = [{"b_org": plan.org_id, "b_incident": i, "b_seq": plan.seqs[i], "b_at": at}
             for plan, i, at in looks if at is not None]
    if gone:
        conn.execute(_GONE, gone)
    if moved:
        conn.execute(_MOVED, moved)
    return [(plan.org_id, m) for plan in plans for m in plan.messages if (plan.org_id, m.key) in fired]
