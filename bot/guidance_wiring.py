"""Wires guidance: the guidance source, the executor, `/revenant suggest`, and the outbox subscribers that
offer guidance when a room opens or a new kind of signal arrives, post it to Slack, and index resolved
incidents back into the org's knowledge (the knowledge loop).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from bot.bootstrap import App
from bot.knowledge_health import RecordedGuidance
from incident_core.chat_commands import Intent
from incident_core.chat_service import ChatContext, Reply
from incident_core.guidance import GuidanceSource, covers, guidance_due
from incident_core.guidance_usecases import TOPIC, offer_guidance, suggest_handler
from storage.outbox import PendingMessage
from storage.suggestion_feedback import SqlSuggestionFeedback

log = logging.getLogger("revenant.guidance")
Subscribers = dict[str, list[Callable[[PendingMessage], None]]]


def build_guidance(app: App) -> GuidanceSource:
    """Retrieval over the knowledge base; with OPENAI_API_KEY a model ranks and phrases (grounded, raise-only)."""
    from knowledge.guidance import RetrievalGuidance

    base = RetrievalGuidance(app.knowledge)
    key = app.settings.openai_api_key
    if key is None:
        return base
    from openai import OpenAI

    from knowledge.guidance_llm import ModelGuidance

    client = OpenAI(api_key=key.get_secret_value(), base_url=app.settings.openai_base_url, timeout=20.0,
                    max_retries=1)
    return ModelGuidance(base, client, app.settings.llm_model)


def build_executor(app: App) -> Any:
    """The playbook executor: the simulator (delay from overrides, default 1 s) unless one is injected."""
    from publishers.simulator import SimulatedExecutor

    return SimulatedExecutor(delay_seconds=float(app.overrides.get("executor_delay", 1.0)), clock=app.deps.clock)


def feedback_stats(app: App) -> SqlSuggestionFeedback:
    """The org's 👍/👎 per source, read from its events."""
    return SqlSuggestionFeedback(app.queries.engine)


def suggest_extra(app: App) -> dict[str, Callable[[Intent, ChatContext], Reply]]:
    """ChatService.extra entry for `/revenant suggest`."""
    return {"suggest": suggest_handler(deps=app.deps, queries=app.queries,
                                       source=lambda: RecordedGuidance(app.guidance, app.knowledge_health),
                                       feedback=feedback_stats(app))}


class GuidanceOfferer:
    """incident.changed → offer guidance when due (decided from the state, so coalesced messages lose nothing)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.feedback = feedback_stats(app)

    def __call__(self, msg: PendingMessage) -> None:
        # Best effort: a knowledge outage must not hold back the other incident.changed subscribers
        # (war-room refreshes). Nothing is lost: the next change of the incident finds it still due.
        try:
            self._offer(msg)
        except Exception as exc:  # noqa: BLE001
            self.app.knowledge_health.failed(exc)  # counted in /metrics, reported by /readyz
            log.exception("guidance for incident %s of org %s failed; retried on its next change",
                          msg.payload.get("incident_id"), msg.org_id)
        else:
            self.app.knowledge_health.succeeded()

    def _offer(self, msg: PendingMessage) -> None:
        state = self.app.queries.get(msg.org_id, str(msg.payload.get("incident_id", "")))
        if state is None:
            return
        if state.status.value in ("resolved", "closed"):
            self._index(state)
            return
        trigger = guidance_due(state)
        if trigger is None:
            return
        digest = hashlib.sha256("|".join(covers(state)).encode()).hexdigest()[:16]
        offer_guidance(deps=self.app.deps, queries=self.app.queries, source=self.app.guidance, org_id=msg.org_id,
                       incident_id=state.incident_id, trigger=trigger, feedback=self.feedback,
                       idempotency_key=f"guidance:{state.incident_id}:{trigger}:{digest}")

    def _index(self, state: Any) -> None:
        from knowledge.incident_doc import index_incident

        project = self.app.directory.project(state.org_id, state.project_id) if state.project_id else None
        events = self.app.queries.timeline(state.org_id, state.incident_id)
        written = index_incident(self.app.knowledge, state, events, project=project.name if project else None)
        if written:
            log.info("indexed %s into org %s's knowledge", state.human_id, state.org_id)


class SlackGuidancePosting:
    """guidance.posted → a thread reply under the Slack war-room message."""

    def __init__(self, app: App) -> None:
        from bot.slack_wiring import slack_chat_for
        from handlers.slack.guidance_outbound import SlackGuidancePoster

        self.app = app
        self.chat_for = slack_chat_for(app)
        self.poster = SlackGuidancePoster

    def __call__(self, msg: PendingMessage) -> None:
        chat = self.chat_for(msg.org_id)
        if chat is not None:
            self.poster(chat.client, self.app.queries, self.app.deliveries).post(msg.org_id, msg.payload)


def add_guidance_subscribers(app: App, subs: Subscribers) -> None:
    """Register the guidance subscribers (when a chat platform is configured: guidance lives in rooms)."""
    from bot.slack_wiring import slack_enabled

    if not slack_enabled(app):
        return
    subs.setdefault("incident.changed", []).append(GuidanceOfferer(app))
    subs.setdefault(TOPIC, []).append(SlackGuidancePosting(app))
