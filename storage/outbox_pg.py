"""The outbox's hot statements on PostgreSQL, each one round trip (storage/pg_scoped.py): org bound, work done.

Claiming a message used to be eight round trips (BEGIN, bind the org, pick with SKIP LOCKED, lease, read its
subscribers' states, find the refreshes to fold, mark them, COMMIT), each statement built by SQLAlchemy per call.
Here one statement does the rest, sent with the org's binding as one message (one implicit transaction); the
text is fixed, values bound on the client.
The rules are those of storage/outbox.py's SQLite path, which the tests run side by side with this one.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from storage.pg_append import joined, json_rows, simple_query
from storage.pg_scoped import BIND_ORG, driver_errors
from storage.state_read import INCIDENTS, state_columns

# With `prefetch`, a leased message naming an incident comes with what its subscribers read first, in the claim's
# statement (one snapshot, no round trip or commit of their own; incident_core/delivery_snapshot.py): the incident's
# state (state_read.state_columns) and its pattern-key index marks (storage/pattern_index.py `marks`). Any change
# committed after this snapshot left a message the claim did not fold, delivered after this one.
_PREFETCH_STATE = str(sa.select(*state_columns()).where(
    INCIDENTS.c.org_id == sa.literal_column("%(org)s"),
    INCIDENTS.c.id == sa.literal_column("(l.payload ->> 'incident_id')"),
    sa.literal_column("%(prefetch)s"),
).compile(dialect=postgresql.dialect())).replace("%%", "%")

# Defer, then pick. `settling` ({incident id: time}, JSON) names the incidents this process rendered within its settle
# window (bot/delivery.py): the oldest due refresh of each that no subscriber has touched, unless the incident already
# has a deferred one, is deferred to that time (`deferring`: as `SqlOutbox.defer` would, unheld), all in this
# statement rather than one claim (and one commit) each; the incident's other fresh refreshes wait for it, to be
# folded into it, as they wait for any deferred refresh (one row update each, not a deferral and then a fold). Two
# probes of ix_outbox_pending_incident per settling incident, not a walk of the org's waiting refreshes.
# Then the org's oldest due message other than those is picked (skipping one another process is claiming),
# leased, its subscribers' states read, and, for a refresh no subscriber has delivered yet, the other untouched
# refreshes of its incident (not held by anyone, no subscriber started, not deferred here) folded into it. Every
# sub-statement sees the same snapshot; the three updates touch different rows. With coalescing, an unheld refresh
# of an incident whose refresh is deferred (`defer`, or here: unheld, untouched, due later) is not picked: that one
# folds it when it falls due. Picking it would only defer it in turn, two commits per change of a settling incident
# for nothing. (A refresh a subscriber started waits too, though it cannot be folded: it is the oldest due once the
# deferred one is claimed, so it goes next. Probing its deliveries here made the planner hash the org's whole
# delivery history.) The pick reads ix_outbox_undelivered (migration 0015_delivery), not the primary key through
# delivered history. When nothing is picked but something was deferred, the oldest deferred refresh is returned
# (`until`: claimed only to be deferred); either way the last column is the earliest time a refresh deferred here
# falls due.
CLAIM = """
WITH deferring AS (
    SELECT f.id, s.key AS incident, s.value::timestamptz AS until
    FROM jsonb_each_text(%(settling)s::jsonb) AS s
    CROSS JOIN LATERAL (
        SELECT m.id FROM outbox AS m
        WHERE m.org_id = %(org)s AND m.topic = %(topic)s AND m.payload ->> 'incident_id' = s.key
          AND m.delivered_at IS NULL AND m.available_at <= %(now)s
          AND NOT EXISTS (SELECT 1 FROM outbox_deliveries AS d WHERE d.org_id = %(org)s AND d.message_id = m.id)
        ORDER BY m.id LIMIT 1 FOR UPDATE OF m SKIP LOCKED) AS f
    WHERE NOT EXISTS (SELECT 1 FROM outbox AS w
                      WHERE w.org_id = %(org)s AND w.topic = %(topic)s AND w.payload ->> 'incident_id' = s.key
                        AND w.delivered_at IS NULL AND w.lease_owner IS NULL AND w.available_at > %(now)s
                        AND NOT EXISTS (SELECT 1 FROM outbox_deliveries AS d
                                        WHERE d.org_id = %(org)s AND d.message_id = w.id))
), deferred AS (
    UPDATE outbox AS o SET available_at = d.until, lease_owner = NULL
    FROM deferring AS d WHERE o.org_id = %(org)s AND o.id = d.id
    RETURNING o.id, o.topic, o.key, o.payload, o.attempts, o.created_at, d.until
), picked AS (
    SELECT m.id FROM outbox AS m
    WHERE m.org_id = %(org)s AND m.delivered_at IS NULL AND m.available_at <= %(now)s
      AND NOT EXISTS (SELECT 1 FROM deferring AS d WHERE d.id = m.id)
      AND NOT (%(coalesce)s AND m.topic = %(topic)s AND m.lease_owner IS NULL
               AND (m.payload ->> 'incident_id' IN (SELECT d.incident FROM deferring AS d)
                    OR EXISTS (SELECT 1 FROM outbox AS w
                               WHERE w.org_id = %(org)s AND w.topic = %(topic)s AND w.delivered_at IS NULL
                                 AND w.lease_owner IS NULL AND w.available_at > %(now)s
                                 AND w.payload ->> 'incident_id' = m.payload ->> 'incident_id'
                                 AND NOT EXISTS (SELECT 1 FROM outbox_deliveries AS d
                                                 WHERE d.org_id = %(org)s AND d.message_id = w.id))))
    ORDER BY m.id LIMIT 1 FOR UPDATE OF m SKIP LOCKED
), leased AS (
    UPDATE outbox AS o SET available_at = %(until)s, lease_owner = %(owner)s
    FROM picked AS p WHERE o.org_id = %(org)s AND o.id = p.id
    RETURNING o.id, o.topic, o.key, o.payload, o.attempts, o.created_at, NULL::timestamptz AS until
), states AS (
    SELECT json_agg(json_build_array(d.subscriber, d.state, d.attempts, d.available_at)) AS rows,
           coalesce(bool_or(d.state = 'delivered'), false) AS started
    FROM outbox_deliveries AS d JOIN leased AS l ON d.message_id = l.id
    WHERE d.org_id = %(org)s
), folded AS (
    SELECT o.id FROM outbox AS o, leased AS l, states AS s
    WHERE %(coalesce)s AND l.topic = %(topic)s AND NOT s.started
      AND o.org_id = %(org)s AND o.topic = %(topic)s AND o.delivered_at IS NULL AND o.id <> l.id
      AND o.lease_owner IS NULL AND o.payload ->> 'incident_id' = l.payload ->> 'incident_id'
      AND NOT EXISTS (SELECT 1 FROM outbox_deliveries AS d WHERE d.org_id = %(org)s AND d.message_id = o.id)
      AND NOT EXISTS (SELECT 1 FROM deferring AS d WHERE d.id = o.id)
    FOR UPDATE OF o SKIP LOCKED
), marked AS (
    UPDATE outbox AS o SET delivered_at = %(now)s, last_error = 'coalesced into message ' || l.id
    FROM folded AS f, leased AS l WHERE o.org_id = %(org)s AND o.id = f.id
    RETURNING o.id
)
SELECT l.id, l.topic, l.key, l.payload, l.attempts, l.created_at, (SELECT rows FROM states),
       (SELECT count(*) FROM marked), l.until, st.state, st.tail_recent, st.tail_points, st.tail_logs,
       pm.signature, pm.checked, (SELECT min(until) FROM deferred)
FROM leased AS l
LEFT JOIN LATERAL (""" + _PREFETCH_STATE + """) AS st ON true
LEFT JOIN LATERAL (SELECT p.signature, p.checked FROM incident_patterns AS p
                   WHERE p.org_id = %(org)s AND p.incident_id = l.payload ->> 'incident_id' AND st.state IS NOT NULL
                   LIMIT 1) AS pm ON true
UNION ALL
(SELECT d.id, d.topic, d.key, d.payload, d.attempts, d.created_at, NULL, 0, d.until, NULL, NULL, NULL, NULL, NULL,
        NULL, (SELECT min(until) FROM deferred)
 FROM deferred AS d WHERE NOT EXISTS (SELECT 1 FROM leased) ORDER BY d.id LIMIT 1)"""

# Each subscriber's outcome (rows of json_rows: subscriber, state, attempts, available_at, last_error).
_OUTCOMES = """
INSERT INTO outbox_deliveries AS d (org_id, message_id, subscriber, state, attempts, available_at, updated_at,
                                    last_error)
SELECT %(org)s, %(id)s, r.subscriber, r.state, r.attempts, coalesce(r.available_at, %(now)s), %(now)s, r.last_error
FROM jsonb_to_recordset(%(outcomes)s::jsonb)
     AS r(subscriber text, state text, attempts int, available_at timestamptz, last_error text)
ON CONFLICT (org_id, message_id, subscriber) DO UPDATE SET
    state = excluded.state, attempts = excluded.attempts, available_at = excluded.available_at,
    updated_at = excluded.updated_at, last_error = excluded.last_error"""

RECORD = _OUTCOMES

# The last outcomes, then the lease given back (delivered, or due again at next_at) if `owner` still holds it.
# A data-modifying WITH runs to completion whatever the main statement finds: the outcomes are written anyway.
RELEASE = "WITH written AS (" + _OUTCOMES + """
    RETURNING 1
)
UPDATE outbox SET lease_owner = NULL, attempts = %(attempts)s, last_error = %(error)s,
    delivered_at = CASE WHEN %(delivered)s THEN %(now)s ELSE delivered_at END,
    available_at = coalesce(%(next_at)s, available_at)
WHERE org_id = %(org)s AND id = %(id)s AND lease_owner = %(owner)s AND delivered_at IS NULL
RETURNING id"""


def outcome_rows(outcomes: Any) -> str:
    """Outcomes as the JSON rows `_OUTCOMES` reads."""
    return json_rows([{"subscriber": o.subscriber, "state": o.state, "attempts": o.attempts,
                       "available_at": o.available_at, "last_error": o.error[:2000] if o.error else None}
                      for o in outcomes])


def release_params(*, org_id: str, message_id: int, owner: str, attempts: int, error: str | None,
                   next_at: datetime | None, now: datetime, outcomes: Any) -> dict[str, Any]:
    """The parameters of RELEASE."""
    return {"org": org_id, "id": message_id, "owner": owner, "attempts": attempts, "error": error,
            "delivered": next_at is None, "next_at": next_at, "now": now, "outcomes": outcome_rows(outcomes)}


def release_then_claim(engine: Engine, release: dict[str, Any],
                       claim: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """RELEASE with one org bound, then CLAIM with (maybe) another, as one message: one implicit transaction, one
    commit. Under READ COMMITTED each statement takes its own snapshot, so the claim sees the release. The rows
    of each."""
    with driver_errors(), engine.begin() as conn:
        dbapi: Any = conn.connection.dbapi_connection
        text = joined(dbapi, [(BIND_ORG + RELEASE, release), (BIND_ORG + CLAIM, claim)])
        cur = simple_query(dbapi, text, None, own_transaction=True)
        try:
            sets: list[list[tuple[Any, ...]]] = []
            while True:
                sets.append(list(cur.fetchall()) if cur.description is not None else [])
                if not cur.nextset():
                    break
        finally:
            cur.close()
    return sets[1], sets[3]  # bind, RELEASE, bind, CLAIM


def claim_params(*, org_id: str, owner: str, now: datetime, until: datetime, coalesce: bool, topic: str,
                 settling: Any, prefetch: bool) -> dict[str, Any]:
    """The parameters of CLAIM."""
    return {"org": org_id, "owner": owner, "now": now, "until": until, "coalesce": coalesce, "topic": topic,
            "settling": settling_json(settling), "prefetch": prefetch}


def settling_json(settling: Any) -> str:
    """CLAIM's `settling`: incident id -> ISO time, as one JSON object."""
    return json.dumps({str(incident): at.isoformat() for incident, at in settling.items()})
