"""FeedbackStats over the event store: net 👍/👎 per cited source for an org, read from its events.

No projection table: feedback events are few, each carries the cited source, and the last vote of a
person on a suggestion wins, so the answer is always recomputable from the events alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storage.engine import scope_to_org
from storage.unit_of_work import EVENTS

FEEDBACK_TYPE = "SuggestionFeedbackGiven"


class SqlSuggestionFeedback:
    """Net votes per source (path#section) for one org, scoped by org like every other read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def net_votes(self, org_id: str) -> dict[str, int]:
        """source → (👍 − 👎), counting each person's last vote on each suggestion once."""
        stmt = (sa.select(EVENTS.c.data, EVENTS.c.actor)
                .where(EVENTS.c.org_id == org_id, EVENTS.c.type == FEEDBACK_TYPE)
                .order_by(EVENTS.c.position))
        last: dict[tuple[str, str], tuple[str, bool]] = {}
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            for data, actor in conn.execute(stmt):
                source = str((data or {}).get("source") or "")
                if source:
                    last[(str(data.get("suggestion_id")), str(data.get("user") or actor))] = (
                        source, bool(data.get("helpful")))
        totals: dict[str, int] = {}
        for source, helpful in last.values():
            totals[source] = totals.get(source, 0) + (1 if helpful else -1)
        return totals
