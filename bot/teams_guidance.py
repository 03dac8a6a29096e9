"""guidance.posted → a reply with the suggestions card in the incident's Teams thread (the Teams twin of
SlackGuidancePosting)."""

from __future__ import annotations

from bot.bootstrap import App
from bot.teams_rooms import TeamsRoomKeeper
from handlers.teams.guidance_cards import guidance_card, guidance_text
from handlers.teams.ids import PLATFORM
from incident_core.guidance_usecases import guidance_of
from storage.outbox import PendingMessage


class TeamsGuidancePosting:
    """Outbox subscriber: posts recorded guidance under the war-room card once per batch (claimed and
    recorded); a connector error means retry."""

    def __init__(self, app: App, keeper: TeamsRoomKeeper | None = None) -> None:
        self.app = app
        self.keeper = keeper or TeamsRoomKeeper(app)

    def __call__(self, msg: PendingMessage) -> None:
        if msg.payload.get("quiet") or not self.app.directory.bindings(msg.org_id, PLATFORM):
            return
        state = self.app.queries.get(msg.org_id, str(msg.payload.get("incident_id", "")))
        room = state.rooms.get(PLATFORM) if state else None
        if state is None or not room:
            return
        guidance = guidance_of(self.app.queries.timeline(msg.org_id, state.incident_id),
                               str(msg.payload.get("batch_id")))
        if guidance is None:
            return
        card = guidance_card(state.human_id, state.incident_id, guidance, str(msg.payload.get("trigger", "command")))
        chat, thread = self.keeper.chat(msg.org_id), str(room.room_id)
        self.app.deliveries.once(msg.org_id, f"guidance:{msg.payload.get('batch_id')}:{PLATFORM}",
                                 f"guidance for {state.human_id}", lambda: {
                                     "id": chat.post_card(thread, card, guidance_text(state.human_id, guidance))})
