"""Guidance policy: offer guidance when an incident's room opens or a new kind of signal arrives, feed resolved
incidents back into the knowledge (the loop), and post recorded guidance in each platform's room."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from incident_core.delivery import Deliveries
from incident_core.guidance import FeedbackStats, GuidanceSource, covers, guidance_due
from incident_core.guidance_usecases import guidance_of, offer_guidance
from incident_core.ports import IncidentQueries
from incident_core.services.knowledge_loop import KnowledgeIndex, learn_from_incident, learns_from
from incident_core.services.messages import Message, incident_of
from incident_core.services.platforms import PlatformPlugin, room_of, skip_if_gone
from incident_core.usecases import Deps

log = logging.getLogger("revenant.guidance")


class GuidanceHealth(Protocol):
    """Counts guidance failures for /metrics and /readyz (bot/knowledge_health.py)."""

    def failed(self, exc: BaseException) -> None: ...

    def succeeded(self) -> None: ...


class GuidanceOfferer:
    """incident.changed → offer guidance when due, or learn from the incident once it is resolved.

    Decided from the state, not the message, so coalesced messages lose nothing. Best effort: a knowledge
    outage must not hold back the other subscribers; the next change of the incident finds it still due.
    """

    subscriber_name = "GuidanceOfferer"

    def __init__(self, *, deps: Deps, queries: IncidentQueries, source: Callable[[], GuidanceSource],
                 index: Callable[[], KnowledgeIndex], feedback: FeedbackStats | None, health: GuidanceHealth,
                 after: Sequence[str] = ()) -> None:
        self.deps, self.queries, self.source, self.index = deps, queries, source, index
        self.feedback, self.health = feedback, health
        self.after = tuple(after)  # the room keepers: guidance lives in rooms

    def __call__(self, msg: Message) -> None:
        try:
            self._offer(msg)
        except Exception as exc:  # noqa: BLE001 — counted and logged; retried on the incident's next change
            self.health.failed(exc)
            log.exception("guidance for incident %s of org %s failed; retried on its next change",
                          msg.payload.get("incident_id"), msg.org_id)
        else:
            self.health.succeeded()

    def _offer(self, msg: Message) -> None:
        state = self.queries.get(msg.org_id, incident_of(msg))
        if state is None:
            return
        if learns_from(state):
            learn_from_incident(queries=self.queries, directory=self.deps.directory, index=self.index(), state=state)
            return
        trigger = guidance_due(state)
        if trigger is None:
            return
        digest = hashlib.sha256("|".join(covers(state)).encode()).hexdigest()[:16]
        offer_guidance(deps=self.deps, queries=self.queries, source=self.source(), org_id=msg.org_id,
                       incident_id=state.incident_id, trigger=trigger, feedback=self.feedback,
                       idempotency_key=f"guidance:{state.incident_id}:{trigger}:{digest}")


class GuidancePosting:
    """guidance.posted → a reply under the war-room message on one platform, once per batch (claimed and
    recorded; the adapter looks for its earlier copy where the platform lets it)."""

    def __init__(self, *, queries: IncidentQueries, deliveries: Deliveries, plugin: PlatformPlugin) -> None:
        self.queries, self.deliveries, self.plugin = queries, deliveries, plugin
        self.subscriber_name = plugin.subscriber_name("GuidancePosting")

    def __call__(self, msg: Message) -> None:
        if msg.payload.get("quiet"):
            return
        # The room first: the state is the message's snapshot, shared with its other subscribers, while an org
        # with nothing bound on this platform costs a bindings read per chat_for (bot/chat_cache.py).
        state = self.queries.get(msg.org_id, incident_of(msg))
        room = room_of(state, self.plugin.name)
        if state is None or room is None:
            return
        chat = self.plugin.chat_for(msg.org_id)
        if chat is None:
            return
        batch = str(msg.payload.get("batch_id"))
        guidance = guidance_of(self.queries.timeline(msg.org_id, state.incident_id), batch)
        if guidance is None:
            return
        trigger = str(msg.payload.get("trigger", "command"))
        what = f"guidance for {state.human_id}"
        self.deliveries.once(msg.org_id, f"guidance:{batch}:{self.plugin.name}", what, skip_if_gone(
            what, room, lambda: chat.post_guidance(state, room, guidance, trigger=trigger, batch_id=batch)))
