"""A click whose process died is finished by another process, and the card it was clicked on shows the answer."""

from __future__ import annotations

import asyncio
import json

from bot import teams_wiring
from storage.acked_work import AckedItem
from tests.teams.conftest import TeamsWorld
from tests.teams.test_teams_actions import FLUSH, buttons, click


def test_a_taken_over_click_replaces_the_clicked_card_with_its_answer(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    root = thread.split("=", 1)[1]
    iid = w.incident().incident_id
    confirm = buttons(click(w, w.bob, thread, "action.request", {"incident_id": iid, **FLUSH})["value"])["Confirm and run"]
    # Bob clicks "Confirm and run"; the process that acknowledged it is killed before answering, so the
    # recorded activity is worked by another process (as `revenant worker` does after the lease runs out).
    activity = w.sender.execute_activity(w.bob, thread, root, confirm["verb"], confirm["data"])
    item = AckedItem(id=1, key="teams:takeover", platform="teams", mode="http", body=json.dumps(activity),
                     headers={}, attempts=2)

    async def changed() -> None:
        return None

    adapter, bot = teams_wiring.build_bot(w.app, changed)
    asyncio.run(teams_wiring.teams_worker(w.app, adapter, bot)(item))

    assert w.incident().actions[confirm["data"]["action_id"]]["status"] == "executed"
    card = w.card(thread)  # the clicked card, replaced for everyone
    assert "✅ Ran" in str(card) and "Confirm and run" not in str(card)
    root_activity = next(a for a in w.connector.activities(thread) if a["id"] == root)
    assert root_activity.get("edited")
