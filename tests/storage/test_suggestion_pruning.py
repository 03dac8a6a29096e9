"""An incident keeps its latest suggestions when it has had more than the state holds, on both databases.

The state keeps the last MAX_SUGGESTIONS suggestions; which are the last was read from the mapping's order, and
PostgreSQL's jsonb keeps no key order: a state loaded from the projection (another process wrote last, or a
restart) dropped whichever ids sorted first, the newest offer's steps among them ("no suggestion on record").
"""

from __future__ import annotations

from pathlib import Path

from bot.bootstrap import App
from incident_core.guidance import Suggestion, covers
from incident_core.guidance_decisions import MAX_SUGGESTIONS as PER_OFFER
from incident_core.guidance_decisions import OfferGuidance
from incident_core.model import OrgRole
from incident_core.state import MAX_SUGGESTIONS
from incident_core.usecases import apply_command
from tests.conftest import make_app
from tests.helpers import declare, new_org


def step(n: int) -> Suggestion:
    return Suggestion(title=f"Check {n}", why="runbook", source=f"runbooks/a.md#s{n}", risk="read-only",
                      risk_reason="reads only", command=f"kubectl get pods -l n={n}",
                      suggestion_id=f"{999 - n:04d}")  # later steps get ids that sort first


def test_the_newest_suggestions_are_kept_whatever_order_the_store_returns(app: App, db_url: str,
                                                                          tmp_path: Path) -> None:
    world = new_org(app, members={"u:alice": OrgRole.COMMANDER})
    incident = declare(world).state.incident_id
    offers = MAX_SUGGESTIONS // PER_OFFER + 2
    for batch in range(offers):
        fresh = make_app(db_url, tmp_path)  # another process each time: it decides from the stored state
        try:
            state = fresh.queries.get(world.org.id, incident)
            assert state is not None
            steps = tuple(step(batch * PER_OFFER + i) for i in range(PER_OFFER))
            apply_command(deps=fresh.deps, check_role=False, command=OfferGuidance(
                org_id=world.org.id, incident_id=incident, actor="u:alice", occurred_at=fresh.deps.clock.now(),
                batch_id=f"b{batch}", trigger="command", covers=covers(state), suggestions=steps))
        finally:
            fresh.close()
    state = app.queries.get(world.org.id, incident)
    assert state is not None and state.suggestion_count == offers * PER_OFFER
    kept = {s.source for s in state.suggestions.values()}
    newest = offers * PER_OFFER
    assert len(kept) == MAX_SUGGESTIONS
    assert kept == {f"runbooks/a.md#s{n}" for n in range(newest - MAX_SUGGESTIONS, newest)}
