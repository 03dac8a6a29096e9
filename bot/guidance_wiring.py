"""Wires `/revenant suggest` and the org's suggestion feedback (the guidance subscribers are application
services: incident_core/services/guidance.py)."""

from __future__ import annotations

from collections.abc import Callable

from bot.bootstrap import App
from bot.knowledge_health import RecordedGuidance
from incident_core.chat_commands import Intent
from incident_core.chat_service import ChatContext, Reply
from incident_core.guidance_usecases import suggest_handler
from storage.suggestion_feedback import SqlSuggestionFeedback


def feedback_stats(app: App) -> SqlSuggestionFeedback:
    """The org's 👍/👎 per source, read from its events."""
    return SqlSuggestionFeedback(app.queries.engine)


def suggest_extra(app: App) -> dict[str, Callable[[Intent, ChatContext], Reply]]:
    """ChatService.extra entry for `/revenant suggest`."""
    return {"suggest": suggest_handler(deps=app.deps, queries=app.queries,
                                       source=lambda: RecordedGuidance(app.guidance, app.knowledge_health),
                                       feedback=feedback_stats(app))}
