"""Offering guidance and recording feedback: the commands and their deciders (merged into aggregate.decide)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from incident_core import events as ev
from incident_core import richtext as rt
from incident_core.commands import Command
from incident_core.decisions import clean, envelope
from incident_core.errors import InvalidTransition, NotFound, ValidationError
from incident_core.guidance import TRIGGERS, Question, SeenBefore, Suggestion, guidance_due
from incident_core.state import IncidentState, offer_digest
from incident_core.state_models import SuggestionRecord
from incident_core.timeline import short_actor

MAX_SUGGESTIONS = 8
# An offer asked for within this long of the last one, saying exactly what it said, posts nothing: the message is
# right above in the thread. Asked again later it is posted again (the thread may have scrolled it away).
REPEAT_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True, kw_only=True)
class OfferGuidance(Command):
    """Record one offer of guidance (its steps already numbered); automatic triggers only when still due."""

    batch_id: str
    trigger: str
    covers: tuple[str, ...]
    suggestions: tuple[Suggestion, ...] = ()
    nothing_found: bool = False
    message: str = ""
    query: str = ""
    engine: str = ""
    questions: tuple[Question, ...] = ()
    seen_before: tuple[SeenBefore, ...] = ()
    retrieved: int = 0


@dataclass(frozen=True, kw_only=True)
class GiveSuggestionFeedback(Command):
    """👍 (`helpful`) or 👎 on a suggestion of this incident."""

    suggestion_id: str
    helpful: bool


def _same_step(entry: SuggestionRecord, s: Suggestion) -> bool:
    return (entry.source, entry.command, entry.action, entry.params) == (s.source, s.command, s.action, s.params)


def _offer(s: IncidentState, c: OfferGuidance) -> list[ev.Event]:
    if c.trigger not in TRIGGERS:
        raise ValidationError(f"unknown guidance trigger {c.trigger!r}")
    if c.trigger != "command" and guidance_due(s) is None:
        return []  # another delivery already offered guidance for what this incident has seen
    fresh = list(c.suggestions[:MAX_SUGGESTIONS])
    if c.trigger == "new_signal":  # only what is new since the last offer
        fresh = [g for g in fresh if not any(_same_step(e, g) for e in s.suggestions.values())]
    if any(not g.suggestion_id for g in fresh):
        raise ValidationError("every suggestion needs an id")
    offered = ev.GuidanceOffered(
        **envelope(s, c), batch_id=c.batch_id, trigger=c.trigger, covers=tuple(c.covers),
        suggestion_ids=tuple(g.suggestion_id for g in fresh), nothing_found=c.nothing_found,
        message=c.message[:1000], query=c.query[:1000], engine=c.engine[:200],
        questions=tuple(asdict(q) for q in c.questions[:MAX_SUGGESTIONS]),
        seen_before=tuple(asdict(b) for b in c.seen_before[:MAX_SUGGESTIONS]), retrieved=c.retrieved)
    if c.trigger == "command" and repeats_last_offer(s, offered, fresh):
        return []  # the same message was posted moments ago (the room's own offer, or a double command)
    events: list[ev.Event] = [offered]
    for offset, g in enumerate(fresh, start=2):
        events.append(ev.SuggestionPosted(
            **envelope(s, c, offset), suggestion_id=g.suggestion_id, title=g.title[:300], why=g.why[:1000],
            source=g.source, risk=g.risk, command=g.command, confidence=round(float(g.confidence), 3),
            batch_id=c.batch_id, risk_reason=g.risk_reason[:500], action=g.action, params=dict(g.params),
            reversible=g.reversible, undo=g.undo, quote=g.quote[:500], quote_by=g.quote_by,
            source_url=g.source_url[:500]))
    return events


def repeats_last_offer(s: IncidentState, offered: ev.GuidanceOffered, steps: list[Suggestion]) -> bool:
    """Whether an offer would say what the incident's last offer said, in the same order, within REPEAT_WINDOW."""
    last = s.last_offer
    if last is None or offered.occurred_at - datetime.fromisoformat(last.at) >= REPEAT_WINDOW:
        return False
    before = [s.suggestions[i] for i in last.suggestion_ids if i in s.suggestions]
    return (offer_digest(offered) == last.digest and len(before) == len(steps)
            and all(_same_step(e, g) for e, g in zip(before, steps, strict=True)))


def _feedback(s: IncidentState, c: GiveSuggestionFeedback) -> list[ev.Event]:
    entry = s.suggestions.get(clean(c.suggestion_id, "the suggestion id", 100))
    if entry is None:
        raise NotFound(f"{s.human_id} has no suggestion {c.suggestion_id!r} on record any more")
    if entry.votes.get(c.actor) is c.helpful:
        mark = "helpful" if c.helpful else "not helpful"
        raise InvalidTransition(rt.doc(rt.para(rt.Mention(c.actor, short_actor(c.actor)),
                                               f" already marked “{entry.title}” as {mark}.")))
    return [ev.SuggestionFeedbackGiven(**envelope(s, c), suggestion_id=c.suggestion_id, helpful=c.helpful,
                                       user=c.actor, source=entry.source)]


GUIDANCE_DECIDERS: dict[type, Callable[[Any, Any], list[Any]]] = {
    OfferGuidance: _offer,
    GiveSuggestionFeedback: _feedback,
}
