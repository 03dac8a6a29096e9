"""Posts recorded guidance as a thread reply under the incident's war-room message (outbox topic guidance.posted)."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from handlers.slack import once
from handlers.slack import suggestion_blocks as sb
from handlers.slack.services import PLATFORM
from incident_core.delivery import Deliveries
from incident_core.guidance_usecases import guidance_of
from incident_core.ports import IncidentQueries


class SlackGuidancePoster:
    """Delivers one `guidance.posted` payload to the incident's Slack room; a Slack error means "retry later"."""

    def __init__(self, client: WebClient, queries: IncidentQueries, deliveries: Deliveries) -> None:
        self.client = client
        self.queries = queries
        self.deliveries = deliveries

    def post(self, org_id: str, payload: dict[str, Any]) -> str | None:
        """The posted message's ts, or None when there is nothing to post (quiet offer, no Slack room).

        Posted once per guidance batch: claimed, recorded, and looked for in the thread by its metadata first.
        """
        if payload.get("quiet"):
            return None
        state = self.queries.get(org_id, str(payload.get("incident_id", "")))
        room = state.rooms.get(PLATFORM) if state else None
        if state is None or not room:
            return None
        guidance = guidance_of(self.queries.timeline(org_id, state.incident_id), str(payload.get("batch_id")))
        if guidance is None:
            return None
        text, blocks = sb.guidance_message(state.human_id, state.incident_id, guidance,
                                           str(payload.get("trigger", "command")))
        batch, channel, thread = str(payload.get("batch_id")), str(room.room_id), room.message_id
        sent = self.deliveries.once(org_id, f"guidance:{batch}:{PLATFORM}", f"guidance for {state.human_id}", lambda: {
            "ts": once.post_once(self.client, channel, once.GUIDANCE, {"incident_id": state.incident_id,
                                                                       "batch_id": batch},
                                 thread_ts=thread, text=text, blocks=blocks)})
        return str(sent["ts"])
