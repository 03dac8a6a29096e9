"""Action.Execute (`adaptiveCard/action`): war-room buttons, the declare form and playbook actions.

Each verb calls the same use case Slack's buttons and the action use cases call, with the same
gates (role checks, medium-risk confirmation, two-person approval). The answer is the refreshed
card (status 200); a refusal is an `application/vnd.microsoft.error` answer Teams shows to the
person who clicked, leaving the card as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import InvokeResponse, MessageFactory, TurnContext
from botbuilder.schema import Activity, ActivityTypes, AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue

from handlers.teams import cards
from handlers.teams.activity import activity_key, actor_of, channel_of, kind_of, tenant_in
from handlers.teams.commands import handle as handle_intent
from handlers.teams.commands import reply
from handlers.teams.errors import invoke_error
from handlers.teams.ids import PM_VERBS, InputId, Verb
from handlers.teams.markdown import TeamsText
from handlers.teams.mentions import known_accounts, people_in_view
from handlers.teams.people import people_in
from handlers.teams.postmortem_card import edited_sections, review_card
from handlers.teams.services import TeamsServices
from incident_core import action_usecases as au
from incident_core import postmortem_usecases as pmu
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core import warroom
from incident_core.chat_commands import Intent
from incident_core.errors import NotFound, ValidationError
from incident_core.guidance_usecases import give_feedback, run_suggestion
from incident_core.model import Severity, Status
from incident_core.state import IncidentState

MESSAGE_TYPE = "application/vnd.microsoft.activity.message"


@dataclass(frozen=True)
class Click:
    """One Action.Execute: who, where, which data, under which idempotency key."""

    org_id: str
    actor: str
    name: str
    data: dict[str, Any]
    key: str
    conversation_id: str
    channel: str | None
    names: dict[str, str]
    tenant_id: str | None = None

    def accounts(self, services: TeamsServices, wanted: set[str]) -> dict[str, tuple[str, str]]:
        """The accounts the tenant knows of these people (bare ids), for the card the click answers with: the
        store only (this runs off the event loop); the thread's refresh asks the roster about the rest."""
        return known_accounts(services.people, self.org_id, self.tenant_id, wanted)


@dataclass(frozen=True)
class Answer:
    """What a click answers: a replacing card or a message, a note and a card for the thread, whether it changed."""

    card: dict[str, Any] | None
    note: rt.Rich | None = None
    changed: bool = True
    message: rt.Rich | None = None
    post: dict[str, Any] | None = None


async def execute(services: TeamsServices, context: TurnContext,
                  value: AdaptiveCardInvokeValue) -> AdaptiveCardInvokeResponse | None:
    """Run the clicked verb and answer with its card, a message, or a refusal (the last two only the clicker sees).

    A message answer is sent as the invoke response here (botbuilder's model types `value` as an object,
    so it cannot carry the string Teams expects) and None is returned.
    """
    a = context.activity
    action: dict[str, Any] = value.action if isinstance(value.action, dict) else {}
    raw = action.get("data")
    data: dict[str, Any] = dict(raw) if isinstance(raw, dict) else {}
    tenant = tenant_in(context)
    org_id, actor = tenant.org_id, actor_of(a.from_property)
    name = (a.from_property.name if a.from_property else None) or "someone"
    names = {**await asyncio.to_thread(services.names, org_id), actor: name}
    click = Click(org_id=org_id, actor=actor, name=name, data=data, key=activity_key("invoke", a),
                  conversation_id=a.conversation.id, channel=channel_of(a) if kind_of(a) == "channel" else None,
                  names=names, tenant_id=tenant.tenant_id)
    verb = next((v for v in Verb if v.value == action.get("verb")), None)
    if verb is None:
        return invoke_error(ValidationError(f"this card's button ({action.get('verb')!r}) is not one Revenant knows; "
                                            "ask for a fresh card"))
    try:
        answer = await asyncio.to_thread(VERBS[verb], services, click)
    except Exception as exc:  # noqa: BLE001 — one error handler shows it
        return invoke_error(exc, names)
    first: bool = await asyncio.to_thread(services.first_answer, click.key)
    if first and answer.note:
        await reply(context, answer.note, names)
    if first and answer.post:
        await context.send_activity(MessageFactory.attachment(cards.attachment(answer.post)))
    if answer.changed:
        await services.incident_changed()
    if answer.card is None:
        body = {"statusCode": 200, "type": MESSAGE_TYPE,
                "value": TeamsText(names).toast(answer.message or rt.doc("Done."))}
        await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                             value=InvokeResponse(status=200, body=body)))
        return None
    return AdaptiveCardInvokeResponse(status_code=200, type=cards.CONTENT_TYPE, value=answer.card)


def _incident(services: TeamsServices, click: Click) -> IncidentState:
    ref = str(click.data.get("incident_id") or "")
    state = services.queries.get(click.org_id, ref) if ref else None
    if state is None:
        raise NotFound("that incident is not in this tenant's org; ask for a fresh card with `@Revenant list`")
    return state


def _war_room(services: TeamsServices, state: IncidentState, click: Click) -> dict[str, Any]:
    view = warroom.build(state, services.deps.clock.now())
    return cards.war_room(view, click.names, click.accounts(services, people_in_view(view)))


def _status(services: TeamsServices, click: Click) -> Answer:
    state = _incident(services, click)
    try:
        status = Status(str(click.data.get("status")))
    except ValueError:
        raise ValidationError(f"unknown status {click.data.get('status')!r}") from None
    new = uc.change_status(deps=services.deps, org_id=click.org_id, incident_id=state.incident_id, actor=click.actor,
                           status=status, note="via war-room button", idempotency_key=click.key).state
    return Answer(_war_room(services, new, click), _did(click, f" set {new.human_id} to ", rt.b(new.status.value)))


def _severity(services: TeamsServices, click: Click) -> Answer:
    state = _incident(services, click)
    severity = Severity.parse(str(click.data.get("severity") or ""))
    new = uc.change_severity(deps=services.deps, org_id=click.org_id, incident_id=state.incident_id,
                             actor=click.actor, severity=severity, idempotency_key=click.key).state
    return Answer(_war_room(services, new, click), _did(click, f" set {new.human_id} to ", rt.b(new.severity.value)))


def _refresh(services: TeamsServices, click: Click) -> Answer:
    return Answer(_war_room(services, _incident(services, click), click), changed=False)


def _declare(services: TeamsServices, click: Click) -> Answer:
    title = str(click.data.get(InputId.TITLE) or "").strip()
    if not title or len(title) > 150:
        raise ValidationError("give the incident a title of 1–150 characters")
    intent = Intent("declare", title=title, severity=Severity.parse(str(click.data.get(InputId.SEVERITY) or "SEV3")))
    answer = handle_intent(services, click.org_id, click.actor, click.conversation_id, click.channel, intent,
                           click.key)
    return Answer(cards.notice(answer.content, click.names, click.accounts(services, people_in(answer.content))))


def _action(services: TeamsServices, click: Click, outcome: au.ActionOutcome) -> Answer:
    wanted = people_in(rt.doc(rt.para(rt.mention(outcome.requested_by or ""), cards.status_line(outcome))))
    card = cards.action_card(outcome, str(click.data.get("incident_id")), click.names, click.accounts(services, wanted))
    if outcome.duplicate:
        return Answer(card, changed=False)
    return Answer(card, _did(click, f": {outcome.summary} — ", cards.status_line(outcome)))


def _request(services: TeamsServices, click: Click) -> Answer:
    """A catalog action with its parameters; never a command line from the click (those come from suggestions)."""
    state, d = _incident(services, click), click.data
    action = str(d.get("action") or "")
    if action.replace("-", "_").replace(" ", "_").lower() == "runbook_command" or d.get("command"):
        raise ValidationError("a runbook command runs only from a recorded suggestion: use its Run button")
    params = d.get("params") if isinstance(d.get("params"), dict) else {}
    risk = d.get("risk") if isinstance(d.get("risk"), str) else None
    outcome = au.request_action(
        deps=services.deps, executor=services.executor, org_id=click.org_id, incident_id=state.incident_id,
        actor=click.actor, action=action, params=params, proposed_risk=risk, idempotency_key=click.key)
    return _action(services, _with_incident(click, state), outcome)


def _run_suggestion(services: TeamsServices, click: Click) -> Answer:
    """The suggestion's recorded action is requested; its action card goes in the thread, the suggestions stay."""
    state = _incident(services, click)
    outcome = run_suggestion(deps=services.deps, queries=services.queries, executor=services.executor,
                             org_id=click.org_id, incident_id=state.incident_id, actor=click.actor,
                             suggestion_id=str(click.data.get("suggestion_id") or ""), idempotency_key=click.key)
    answer = _action(services, _with_incident(click, state), outcome)
    return Answer(None, answer.note, answer.changed,
                  message=rt.doc(rt.para(f"{outcome.summary}: ", cards.status_line(outcome))),
                  post=None if outcome.duplicate else answer.card)


def _feedback(services: TeamsServices, click: Click) -> Answer:
    state = _incident(services, click)
    helpful = click.data.get("helpful") is True
    give_feedback(deps=services.deps, org_id=click.org_id, incident_id=state.incident_id, actor=click.actor,
                  suggestion_id=str(click.data.get("suggestion_id") or ""), helpful=helpful, idempotency_key=click.key)
    return Answer(None, changed=False, message=rt.doc("Thanks: later suggestions for this org rank its source "
                                                      + ("higher." if helpful else "lower.")))


def _on_action(fn: Callable[..., au.ActionOutcome], *, runs: bool) -> Callable[[TeamsServices, Click], Answer]:
    def run(services: TeamsServices, click: Click) -> Answer:
        state = _incident(services, click)
        extra = {"executor": services.executor} if runs else {}
        outcome = fn(deps=services.deps, org_id=click.org_id, incident_id=state.incident_id, actor=click.actor,
                     action_id=str(click.data.get("action_id") or ""), idempotency_key=click.key, **extra)
        return _action(services, _with_incident(click, state), outcome)

    return run


def _postmortem(step: str) -> Callable[[TeamsServices, Click], Answer]:
    """Save the edited sections, then (submit) ask for approval or (approve) approve and publish."""

    def run(services: TeamsServices, click: Click) -> Answer:
        state = _incident(services, click)
        base: dict[str, Any] = {"deps": services.deps, "org_id": click.org_id, "incident_id": state.incident_id,
                                "actor": click.actor}
        changed = edited_sections(pmu.view_of(state), click.data)
        if changed and step != "approve":
            pmu.save_edits(**base, sections=changed, idempotency_key=f"{click.key}:save")
        if step == "submit":
            pmu.submit_postmortem(**base, queries=services.queries, idempotency_key=click.key)
        if step == "approve":
            pmu.approve_postmortem(**base, queries=services.queries, idempotency_key=click.key)
        view = pmu.view_of(_incident(services, click))
        note = {"save": f" saved {len(changed)} section(s) of the postmortem",
                "submit": " submitted the postmortem for approval",
                "approve": " approved the postmortem; publishing"}[step]
        return Answer(card=review_card(view, PM_VERBS), note=_did(click, note))

    return run


def _did(click: Click, *parts: rt.Part) -> rt.Rich:
    """`<who clicked> <what happened>` (the clicker by display name, never a mention)."""
    return rt.doc(rt.para(rt.Mention(click.actor, click.name), *parts))


def _with_incident(click: Click, state: IncidentState) -> Click:
    return Click(**{**click.__dict__, "data": {**click.data, "incident_id": state.incident_id}})


VERBS: dict[Verb, Callable[[TeamsServices, Click], Answer]] = {
    Verb.SET_STATUS: _status,
    Verb.SET_SEVERITY: _severity,
    Verb.REFRESH: _refresh,
    Verb.DECLARE: _declare,
    Verb.REQUEST_ACTION: _request,
    Verb.CONFIRM_ACTION: _on_action(au.confirm_action, runs=True),
    Verb.APPROVE_ACTION: _on_action(au.approve_action, runs=True),
    Verb.DENY_ACTION: _on_action(au.deny_action, runs=False),
    Verb.UNDO_ACTION: _on_action(au.undo_action, runs=True),
    Verb.RUN_SUGGESTION: _run_suggestion,
    Verb.SUGGESTION_FEEDBACK: _feedback,
    Verb.POSTMORTEM_SAVE: _postmortem("save"),
    Verb.POSTMORTEM_SUBMIT: _postmortem("submit"),
    Verb.POSTMORTEM_APPROVE: _postmortem("approve"),
}
