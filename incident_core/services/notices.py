"""Chat notices (reminders, postmortem drafts, publishing results): posted in the incident's room on each
platform, once per outbox key."""

from __future__ import annotations

import logging

from incident_core import postmortem_usecases as pmu
from incident_core import richtext as rt
from incident_core.delivery import Deliveries
from incident_core.ports import IncidentQueries
from incident_core.services.messages import Message, incident_of
from incident_core.services.platforms import PlatformPlugin, room_of, skip_if_gone

log = logging.getLogger("revenant.notices")


class NoticePosting:
    """chat.notice → the notice in the incident's room on one platform (claimed, recorded, found first)."""

    def __init__(self, *, queries: IncidentQueries, deliveries: Deliveries, plugin: PlatformPlugin) -> None:
        self.queries, self.deliveries, self.plugin = queries, deliveries, plugin
        self.subscriber_name = plugin.subscriber_name("Notices")

    def post(self, org_id: str, incident_id: str, content: rt.Rich, *, key: str, snooze: str | None = None) -> bool:
        """Post the notice once per `key`; True when posted (now or before), False when the incident has no room
        on this platform (the notice is logged instead)."""
        state = self.queries.get(org_id, incident_id)
        room = room_of(state, self.plugin.name)
        chat = self.plugin.chat_for(org_id) if room is not None else None
        if state is None or room is None or chat is None:
            log.info("notice for %s (no %s room): %s", incident_id, self.plugin.name, content.plain())
            return False
        what = f"a notice for {state.human_id}"
        self.deliveries.once(org_id, f"notice:{self.plugin.name}:{key}", what, skip_if_gone(
            what, room, lambda: chat.post_notice(state, room, content, key=key, snooze=snooze)))
        return True

    def __call__(self, msg: Message) -> None:
        snooze = msg.payload.get("snooze")
        self.post(msg.org_id, incident_of(msg), pmu.notice_content(dict(msg.payload)), key=msg.key,
                  snooze=str(snooze) if snooze else None)
