"""Org feedback read back from the event store (last vote per person and suggestion, scoped by org), and the
guidance outbox message that carries ids only."""

from __future__ import annotations

import sqlalchemy as sa

from bot.bootstrap import App
from incident_core.guidance import Guidance, GuidanceRequest, Suggestion
from incident_core.guidance_usecases import TOPIC, give_feedback, guidance_of, offer_guidance
from incident_core.model import OrgRole
from storage.engine import scope_to_org
from storage.suggestion_feedback import SqlSuggestionFeedback
from storage.unit_of_work import OUTBOX
from tests.helpers import declare, new_org

STEP = Suggestion(title="Check pods", why="w", source="runbooks/a.md#diagnosis", risk="read-only",
                  risk_reason="reads", command="kubectl get pods")


class OneStep:
    def has_knowledge(self, org_id: str) -> bool:
        return True

    def guide(self, request: GuidanceRequest) -> Guidance:
        return Guidance(suggestions=(STEP, STEP.__class__(**{**STEP.to_dict(), "source": "runbooks/b.md#x"})),
                        retrieved=2)


def test_net_votes_count_each_persons_last_vote_once_per_org(app: App) -> None:
    world = new_org(app, members={"u:alice": OrgRole.COMMANDER, "u:eve": OrgRole.VIEWER})
    other = new_org(app)
    incident = declare(world).state
    offer = offer_guidance(deps=app.deps, queries=app.queries, source=OneStep(), org_id=world.org.id,
                           incident_id=incident.incident_id, actor="u:alice")
    assert offer.guidance is not None
    a, b = (s.suggestion_id for s in offer.guidance.suggestions)
    base = {"deps": app.deps, "org_id": world.org.id, "incident_id": incident.incident_id}
    give_feedback(**base, actor="u:alice", suggestion_id=a, helpful=True)
    give_feedback(**base, actor="u:alice", suggestion_id=a, helpful=False)  # changed her mind: counts once
    give_feedback(**base, actor="u:eve", suggestion_id=a, helpful=False)  # viewers may vote
    give_feedback(**base, actor="u:bob", suggestion_id=b, helpful=True)
    stats = SqlSuggestionFeedback(app.queries.engine)
    assert stats.net_votes(world.org.id) == {"runbooks/a.md#diagnosis": -2, "runbooks/b.md#x": 1}
    assert stats.net_votes(other.org.id) == {}


def test_the_guidance_outbox_message_holds_ids_only_and_rebuilds_from_events(app: App) -> None:
    world = new_org(app)
    incident = declare(world).state
    offer = offer_guidance(deps=app.deps, queries=app.queries, source=OneStep(), org_id=world.org.id,
                           incident_id=incident.incident_id, actor="u:alice")
    with app.engine.begin() as conn:
        scope_to_org(conn, world.org.id)
        payloads = [r.payload for r in conn.execute(sa.select(OUTBOX.c.payload).where(
            OUTBOX.c.org_id == world.org.id, OUTBOX.c.topic == TOPIC))]
    assert len(payloads) == 1 and set(payloads[0]) == {"incident_id", "batch_id", "trigger", "quiet"}
    rebuilt = guidance_of(app.queries.timeline(world.org.id, incident.incident_id), payloads[0]["batch_id"])
    assert rebuilt == offer.guidance and rebuilt is not None and len(rebuilt.suggestions) == 2
