"""/revenant postmortem: the key-moment review and the editor modal, opened within the trigger's 3 s.

The ack path opens a loading modal at once (the trigger id is single use and expires after 3 s), under
an external id derived from the command; the draft is prepared in a lazy listener (from the record of
acknowledged requests, by any process) and the modal updated in place by that external id. Submissions
are validated before the ack so errors show inline (`response_action: errors`); the edits are saved after it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack import postmortem_blocks as pb
from handlers.slack.errors import explain
from handlers.slack.ids import COMMAND, PostmortemId
from handlers.slack.incoming import plain_text
from handlers.slack.mrkdwn import cut, message, plain
from handlers.slack.postmortem_form import (
    FormInput,
    ModalMeta,
    fingerprint,
    read_form,
    section_block,
    validate,
)
from handlers.slack.services import SlackServices
from incident_core import postmortem_usecases as pmu
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core.chat_commands import UsageError, parse
from incident_core.errors import NotFound
from incident_core.model import Status
from incident_core.postmortem_facts import clip, gather
from incident_core.postmortem_model import LOCKED, status_of
from incident_core.rbac import Permission, allows, require


def first_view(services: SlackServices, org_id: str, user: str, channel: str | None) -> dict[str, Any]:
    """The modal `/revenant postmortem` shows: key-moment review for a commander, else the editor."""
    ctx = services.context(org_id, user, channel)
    state = services.queries.get(org_id, ctx.incident_id) if ctx.incident_id else None
    if state is None:
        raise NotFound(rt.doc(rt.para("run ", rt.cmd("postmortem"), " in the incident's channel")))
    role = uc.role_of(deps=services.deps, org_id=org_id, actor=ctx.user)
    meta = ModalMeta(incident_id=state.incident_id, channel=channel)
    if not allows(role, Permission.EDIT_POSTMORTEM):
        if status_of(state) is None:
            require(role, Permission.EDIT_POSTMORTEM, actor=ctx.user)
        return pb.message_modal(pmu.summary_text(pmu.view_of(state)))
    reviewer = allows(role, Permission.APPROVE_POSTMORTEM) or ctx.user == state.commander
    if status_of(state) is None and reviewer and state.status in (Status.MITIGATED, Status.RESOLVED):
        facts = gather(state, services.queries.timeline(org_id, state.incident_id))
        candidates = [(e.version, clip(f"{e.occurred_at:%H:%M} {facts.moment_line(e)[0]}", 75))
                      for e in facts.moment_candidates()]
        return pb.review_modal(state.human_id, meta, candidates, {v for v, _ in candidates})
    view = pmu.draft_postmortem(deps=services.deps, queries=services.queries, org_id=org_id,
                                incident_id=state.incident_id, actor=ctx.user)
    return pb.editor_modal(view, channel=channel, can_approve=allows(role, Permission.APPROVE_POSTMORTEM))


def check_submission(services: SlackServices, org_id: str, actor: str, meta: ModalMeta,
                     values: dict[str, Any]) -> tuple[FormInput, dict[str, str]]:
    """Read the form and find every inline error: input limits, completeness, role, status, conflicts."""
    state = services.queries.get(org_id, meta.incident_id)
    if state is None:
        raise NotFound("that incident is not in this workspace's org")
    previous = list(state.postmortem.action_items)
    form = read_form(values, meta, previous)
    errors = validate(form, meta, today=services.deps.clock.now().date(), previous=previous)
    role = uc.role_of(deps=services.deps, org_id=org_id, actor=actor)
    decision = PostmortemId.DECISION_BLOCK
    if status_of(state) in LOCKED:
        errors[decision] = f"{state.human_id}'s postmortem is already approved; it can no longer change."
    elif not allows(role, Permission.EDIT_POSTMORTEM):
        errors[decision] = "Viewers cannot edit postmortems; ask an org admin for the responder role."
    elif form.decision == "approve" and not allows(role, Permission.APPROVE_POSTMORTEM):
        errors[decision] = "Only an org commander or admin can approve. Choose Submit for approval instead."
    elif form.decision == "approve" and state.status is not Status.RESOLVED:
        errors[decision] = f"{state.human_id} is {state.status.value}: resolve it before approving the postmortem."
    current = state.postmortem.sections
    for key, _parts in meta.sections:
        mine = fingerprint(form.sections.get(key, "")) != meta.hashes.get(key)
        theirs = fingerprint(current.get(key, "")) != meta.hashes.get(key)
        if mine and theirs and form.sections.get(key, "") != current.get(key, ""):
            errors[section_block(key, 0)] = ("Someone else changed this section after you opened the form. Copy "
                                              "your text, close the form and run /revenant postmortem again.")
    return form, errors


def save_submission(services: SlackServices, org_id: str, user: str, meta: ModalMeta,
                    form: FormInput) -> tuple[rt.Rich, bool]:
    """Save what the person changed, then submit or approve; returns the message and whether it is public."""
    actor = f"slack:{user}"
    sections = {k: v for k, v in form.sections.items() if fingerprint(v) != meta.hashes.get(k)}
    items = form.items if fingerprint(form.items) != meta.items_hash else None
    saved = pmu.save_edits(deps=services.deps, org_id=org_id, incident_id=meta.incident_id, actor=actor,
                           sections=sections, action_items=items)
    human = saved.state.human_id
    changed = ", ".join(str(getattr(e, "section", "")).replace("_", " ") for e in saved.events) or "nothing changed"
    if form.decision == "submit":
        done = pmu.submit_postmortem(deps=services.deps, queries=services.queries, org_id=org_id,
                                     incident_id=meta.incident_id, actor=actor)
        warnings = getattr(done.events[-1], "warnings", 0)
        return rt.doc(rt.para(rt.Mention(actor, user), f" submitted {human}'s postmortem for approval ({warnings} "
                              "blameless warning(s) open). An org commander can approve it with ",
                              rt.cmd("postmortem"), ".")), True
    if form.decision == "approve":
        pmu.approve_postmortem(deps=services.deps, queries=services.queries, org_id=org_id,
                               incident_id=meta.incident_id, actor=actor)
        return rt.doc(f"Approved {human}'s postmortem (saved: {changed}); publishing progress appears in the "
                      "channel."), False
    return rt.doc(f"Saved {human}'s postmortem draft ({changed})."), False


log = logging.getLogger("revenant.slack.postmortem")


def _modal_key(command: dict[str, Any]) -> str:
    """The external id of the postmortem modal a command opened (its trigger id is unique)."""
    return f"revenant-pm-{command.get('trigger_id')}"[:255]


def _kept_moments(view: dict[str, Any]) -> list[int]:
    chosen = (view["state"]["values"].get(PostmortemId.MOMENTS_BLOCK, {}).get("value") or {})
    return [int(o["value"]) for o in chosen.get("selected_options") or [] if str(o.get("value")).isdigit()]


def register(app: AsyncApp, services: SlackServices) -> None:
    async def is_postmortem(command: dict[str, Any]) -> bool:
        try:
            return parse(plain_text(command.get("text"))).name == "postmortem"
        except UsageError:
            return False

    async def open_postmortem(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()  # the trigger id is good for 3 s: the loading modal opens now, the draft fills it later
        await client.views_open(trigger_id=command["trigger_id"],
                                view={**pb.loading_modal(), "external_id": _modal_key(command)})

    async def fill_postmortem(command: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
        try:
            view = await asyncio.to_thread(first_view, services, context["org_id"], command["user_id"],
                                           command.get("channel_id"))
        except Exception as exc:  # noqa: BLE001 — one error handler shows it in the modal
            view = pb.message_modal(explain(exc))
        try:
            await client.views_update(external_id=_modal_key(command), view=view)
        except SlackApiError as exc:  # the modal did not open (or was closed): nothing to fill
            log.info("postmortem modal not updated: %s", exc.response.get("error"))
        await services.incident_changed()

    async def check_review(ack: AsyncAck, view: dict[str, Any]) -> None:
        if not _kept_moments(view):
            await ack(response_action="errors", errors={PostmortemId.MOMENTS_BLOCK: "Keep at least one key moment."})
            return
        await ack(response_action="update", view=pb.loading_modal())

    async def on_review(body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext,
                        client: AsyncWebClient) -> None:
        versions = _kept_moments(view)
        if not versions:
            return  # answered in the ack
        meta = ModalMeta.from_json(view.get("private_metadata"))
        user, org_id = body["user"]["id"], context["org_id"]

        def work() -> dict[str, Any]:
            pmu.review_key_moments(deps=services.deps, org_id=org_id, incident_id=meta.incident_id,
                                   actor=f"slack:{user}", versions=versions)
            return first_view(services, org_id, user, meta.channel)

        try:
            new_view = await asyncio.to_thread(work)
        except Exception as exc:  # noqa: BLE001
            new_view = pb.message_modal(explain(exc))
        await client.views_update(view_id=view["id"], view=new_view)
        await services.incident_changed()

    async def check_edit(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext) -> None:
        try:
            meta = ModalMeta.from_json(view.get("private_metadata"))
            _form, errors = await asyncio.to_thread(check_submission, services, context["org_id"],
                                                    f"slack:{body['user']['id']}", meta, view["state"]["values"])
        except Exception as exc:  # noqa: BLE001
            await ack(response_action="errors", errors={PostmortemId.DECISION_BLOCK: cut(plain(explain(exc)), 150)})
            return
        await (ack(response_action="errors", errors=errors) if errors else ack())

    async def on_edit(body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext,
                      client: AsyncWebClient) -> None:
        user, org_id = body["user"]["id"], context["org_id"]
        try:
            meta = ModalMeta.from_json(view.get("private_metadata"))
            form, errors = await asyncio.to_thread(check_submission, services, org_id, f"slack:{user}", meta,
                                                   view["state"]["values"])
        except Exception:  # noqa: BLE001 — answered in the ack
            return
        if errors:
            return  # answered in the ack
        try:
            content, public = await asyncio.to_thread(save_submission, services, org_id, user, meta, form)
        except Exception as exc:  # noqa: BLE001
            content, public = explain(exc), False
        if public and meta.channel:
            await client.chat_postMessage(channel=meta.channel, **message(content))
        elif meta.channel:
            await client.chat_postEphemeral(channel=meta.channel, user=user, **message(content))
        else:
            await client.chat_postMessage(channel=user, **message(content))
        await services.incident_changed()

    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    app.command(COMMAND, matchers=[is_postmortem])(ack=open_postmortem, lazy=[fill_postmortem])
    app.view(PostmortemId.REVIEW_CALLBACK)(ack=check_review, lazy=[on_review])
    app.view(PostmortemId.EDIT_CALLBACK)(ack=check_edit, lazy=[on_edit])
    app.action(re.compile(r"^revenant_pm_item_"))(ack_only)  # row widgets: their values arrive on Save
