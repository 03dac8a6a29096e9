"""Guidance use cases: offer guidance (room opened, new kind of signal, `/revenant suggest`), record feedback,
and run a suggestion as a playbook action through the same gates as any other action.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from incident_core import richtext as rt
from incident_core.action_usecases import ActionExecutor, ActionOutcome, request_action
from incident_core.chat_commands import Intent
from incident_core.chat_service import ChatContext, Reply
from incident_core.errors import NotFound, ValidationError
from incident_core.events import Event, GuidanceOffered, SuggestionPosted
from incident_core.guidance import (
    FeedbackStats,
    Guidance,
    GuidanceRequest,
    GuidanceSource,
    Question,
    SeenBefore,
    Suggestion,
    action_id_for,
    covers,
    guidance_due,
    guidance_text,
)
from incident_core.guidance_decisions import GiveSuggestionFeedback, OfferGuidance
from incident_core.ports import IncidentQueries, OutboxMessage
from incident_core.rbac import Permission, require
from incident_core.recurrence import preferred_sources
from incident_core.state import IncidentState
from incident_core.usecases import Deps, Result, apply_command, role_of, run_command

TOPIC = "guidance.posted"  # chat adapters post the payload in the incident room's thread


@dataclass(frozen=True)
class Offer:
    """What an offer did: the guidance shown (only the suggestions recorded) and whether anything was written."""

    state: IncidentState
    guidance: Guidance | None
    recorded: bool
    quiet: bool = False
    current: bool = False  # asked for, but the last offer said the same moments ago: nothing recorded or posted


def offer_guidance(*, deps: Deps, queries: IncidentQueries, source: GuidanceSource, org_id: str,
                   incident_id: str, actor: str = "revenant", trigger: str = "command",
                   feedback: FeedbackStats | None = None, idempotency_key: str | None = None) -> Offer:
    """Compute guidance outside any transaction, then record it with an outbox message for the chat rooms."""
    state = queries.get(org_id, incident_id)
    if state is None:
        raise NotFound(f"no incident {incident_id} in this org")
    if trigger == "command":
        require(role_of(deps=deps, org_id=org_id, actor=actor), Permission.READ, actor=actor)
    elif guidance_due(state) is None:
        return Offer(state, None, recorded=False)
    elif not source.has_knowledge(org_id):
        # An org with nothing indexed: an offer would find nothing and record nothing, so it stays due and every
        # change of every incident would build its query (walking the signals' payloads) to find nothing again.
        return Offer(state, None, recorded=False, quiet=True)
    project = deps.directory.project(org_id, state.project_id) if state.project_id else None
    request = GuidanceRequest(org_id=org_id, state=state, events=queries.timeline(org_id, state.incident_id),
                              trigger=trigger, feedback=feedback.net_votes(org_id) if feedback else {},
                              project=project.name if project else None, prefer=preferred_sources(state))
    guidance = source.guide(request)
    if trigger != "command" and guidance.retrieved == 0:
        return Offer(state, None, recorded=False, quiet=True)  # no knowledge yet: stay off the timeline
    batch_id = deps.ids.new_id()[:16]
    numbered = tuple(replace(s, suggestion_id=deps.ids.new_id()[:16]) for s in guidance.suggestions)
    guidance = replace(guidance, suggestions=numbered)
    shown: dict[str, Guidance] = {}

    def outbox(new_state: IncidentState, events: list[Event]) -> list[OutboxMessage]:
        # Outbox payloads hold ids only (the org-wide outbox scan reads them): adapters rebuild the
        # guidance from the recorded events with guidance_of().
        kept = guidance_of(events, batch_id) or guidance
        shown["guidance"] = kept
        return [OutboxMessage(topic=TOPIC, key=f"guidance:{batch_id}", payload={
            "incident_id": new_state.incident_id, "batch_id": batch_id, "trigger": trigger,
            "quiet": _quiet(trigger, kept)})]

    command = OfferGuidance(
        org_id=org_id, incident_id=state.incident_id, actor=actor, occurred_at=deps.clock.now(),
        batch_id=batch_id, trigger=trigger, covers=covers(state), suggestions=numbered,
        nothing_found=guidance.nothing_found, message=guidance.message, query=guidance.query,
        engine=guidance.engine, questions=guidance.questions, seen_before=guidance.seen_before,
        retrieved=guidance.retrieved)
    result = run_command(deps=deps, build=lambda _n: command, permission=Permission.READ, outbox=outbox,
                         idempotency_key=idempotency_key, check_role=False)
    kept = shown.get("guidance")
    recorded = bool(result.events) and not result.duplicate and kept is not None
    if trigger == "command" and not result.events:  # the decider found it repeats the last offer
        return Offer(result.state, guidance, recorded=False, quiet=True, current=True)
    return Offer(result.state, kept if recorded else None, recorded=recorded,
                 quiet=_quiet(trigger, kept) if kept else True)


def guidance_of(events: Sequence[Event], batch_id: str) -> Guidance | None:
    """The guidance one offer recorded, rebuilt from its GuidanceOffered and SuggestionPosted events."""
    offered = next((e for e in events if isinstance(e, GuidanceOffered) and e.batch_id == batch_id), None)
    if offered is None:
        return None
    steps = tuple(Suggestion(
        title=e.title, why=e.why, source=e.source, risk=e.risk, risk_reason=e.risk_reason, command=e.command,
        action=e.action, params=dict(e.params), reversible=e.reversible, undo=e.undo, confidence=e.confidence,
        suggestion_id=e.suggestion_id, quote=e.quote, quote_by=e.quote_by, source_url=e.source_url)
        for e in events if isinstance(e, SuggestionPosted) and e.batch_id == batch_id)
    return Guidance(suggestions=steps, questions=tuple(Question(**q) for q in offered.questions),
                    seen_before=tuple(SeenBefore(**b) for b in offered.seen_before),
                    nothing_found=offered.nothing_found, message=offered.message, query=offered.query,
                    engine=offered.engine, retrieved=offered.retrieved)


def _quiet(trigger: str, guidance: Guidance) -> bool:
    """A new kind of signal that brings no new step stays silent; every other offer is posted."""
    if trigger == "command":
        return False
    return trigger == "new_signal" and not guidance.suggestions and not guidance.seen_before


def give_feedback(*, deps: Deps, org_id: str, incident_id: str, actor: str, suggestion_id: str, helpful: bool,
                  idempotency_key: str | None = None) -> Result:
    """Record 👍/👎 on a suggestion; later guidance for the org ranks its source up or down."""
    command = GiveSuggestionFeedback(org_id=org_id, incident_id=incident_id, actor=actor,
                                     occurred_at=deps.clock.now(), suggestion_id=suggestion_id, helpful=helpful)
    return apply_command(deps=deps, command=command, permission=Permission.READ, idempotency_key=idempotency_key)


def run_suggestion(*, deps: Deps, queries: IncidentQueries, executor: ActionExecutor, org_id: str,
                   incident_id: str, actor: str, suggestion_id: str, confirmed: bool = False,
                   idempotency_key: str | None = None) -> ActionOutcome:
    """Request the suggestion's action (by its recorded action, never by text from the click)."""
    state = queries.get(org_id, incident_id)
    entry = state.suggestions.get(suggestion_id) if state else None
    if state is None or entry is None:
        raise NotFound("that suggestion is not on this incident's record")
    if not entry.action:
        raise ValidationError(f"“{entry.title}” has no runnable action; do it by hand from {entry.source}.")
    runbook = entry.action == "runbook_command"
    return request_action(
        deps=deps, executor=executor, org_id=org_id, incident_id=state.incident_id, actor=actor,
        action=entry.action, params=None if runbook else dict(entry.params),
        command=entry.command if runbook else None, source=entry.source,
        proposed_risk=entry.risk, confirmed=confirmed, suggestion_id=suggestion_id,
        action_id=action_id_for(suggestion_id), idempotency_key=idempotency_key)


def suggest_handler(*, deps: Deps, queries: IncidentQueries, source: Callable[[], GuidanceSource],
                    feedback: FeedbackStats | None = None) -> Callable[[Intent, ChatContext], Reply]:
    """`/revenant suggest` for ChatService.extra: offer guidance now; the room's thread shows it."""

    def handle(_intent: Intent, ctx: ChatContext) -> Reply:
        state = queries.get(ctx.org_id, ctx.incident_id) if ctx.incident_id else None
        if state is None:
            raise NotFound(rt.doc(rt.para("run ", rt.cmd("suggest"), " in an incident's ", rt.term("room"))))
        offer = offer_guidance(deps=deps, queries=queries, source=source(), org_id=ctx.org_id,
                               incident_id=state.incident_id, actor=ctx.user, trigger="command", feedback=feedback)
        guidance = offer.guidance or Guidance(nothing_found=True, message="No guidance was recorded; try again.")
        if ctx.platform not in offer.state.rooms:
            return Reply(guidance_text(guidance), incident=offer.state)
        if offer.current:
            return Reply(rt.doc(f"The suggestions for {offer.state.human_id} just posted in the thread under the "
                                "war-room message are still current (nothing new since); ask again in a minute "
                                "to post them again."), incident=offer.state)
        if guidance.nothing_found:
            return Reply(rt.doc(guidance.message + " (also posted in the war-room thread)"), incident=offer.state)
        count = len(guidance.suggestions)
        return Reply(rt.doc(f"{count} suggestion(s) for {offer.state.human_id} posted in the thread under the "
                            "war-room message."), incident=offer.state)

    return handle
