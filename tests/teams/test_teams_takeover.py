"""A click whose process died is finished by another process, and the card it was clicked on shows the answer."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request

from bot import teams_wiring
from storage.acked_work import AckedItem
from tests.teams.conftest import APP_ID, CARD, TeamsWorld
from tests.teams.test_teams_actions import FLUSH, buttons, click


def post_card(w: TeamsWorld, thread: str, card: dict[str, object]) -> str:
    """Post an Adaptive Card in the thread as the bot does (Bot Connector REST API); returns its id."""
    body = {"type": "message", "attachments": [{"contentType": CARD, "content": card}]}
    req = urllib.request.Request(
        f"{w.connector.service_url}v3/conversations/{urllib.parse.quote(thread, safe='')}/activities",
        data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {w.connector.issue_bot_token(APP_ID)}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return str(json.loads(r.read())["id"])


def test_a_taken_over_click_replaces_the_clicked_card_with_its_answer(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    iid = w.incident().incident_id
    asked = click(w, w.bob, thread, "action.request", {"incident_id": iid, **FLUSH})["value"]
    card_id = post_card(w, thread, asked)  # the action card as it stands in the thread
    confirm = buttons(asked)["Confirm and run"]
    # Bob clicks "Confirm and run" on it; the process that acknowledged the click is killed before answering,
    # so the recorded activity is worked by another process (as `revenant worker` does after the lease).
    activity = w.sender.execute_activity(w.bob, thread, card_id, confirm["verb"], confirm["data"])
    item = AckedItem(id=1, key="teams:takeover", platform="teams", mode="http", body=json.dumps(activity),
                     headers={}, attempts=2)

    async def changed() -> None:
        return None

    adapter, bot = teams_wiring.build_bot(w.app, changed)
    asyncio.run(teams_wiring.teams_worker(w.app, adapter, bot)(item))

    assert w.incident().actions[confirm["data"]["action_id"]].status == "executed"
    shown = next(a for a in w.connector.activities(thread) if a["id"] == card_id)
    card = shown["attachments"][0]["content"]  # the clicked card, replaced for everyone
    assert shown.get("edited") and "✅ Ran" in str(card) and "Confirm and run" not in str(card)
