"""views.open/push/update/publish with single-use trigger_ids and a modal stack per user."""

from __future__ import annotations

import json
from typing import Any

from emulators.slack.api import Call, Registry, Result
from emulators.slack.blocks import validate_view
from emulators.slack.serialize import view_json
from emulators.slack.state import SlackError, SlackState, Trigger, View

views = Registry()
MAX_STACK = 3
MAX_VIEW_BYTES = 250_000


def _payload(call: Call, *, modal: bool) -> dict[str, Any]:
    view = call.get_json("view")
    if view is None:
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: view"]}
        )
    if len(json.dumps(view)) > MAX_VIEW_BYTES:
        raise SlackError("view_too_large")
    errors = validate_view(view, modal=modal)
    if errors:
        raise SlackError("invalid_arguments", response_metadata={"messages": errors})
    assert isinstance(view, dict)
    return view


def _exchange(call: Call) -> Trigger:
    """Consume a trigger_id: invalid, already exchanged, or expired after 3 seconds."""
    trigger_id = call.get_str("trigger_id") or call.get_str("interactivity_pointer")
    trigger = call.state.triggers.get(trigger_id or "")
    if trigger is None or trigger.team_id != call.team.id:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] invalid `trigger_id` [json-pointer:/trigger_id]"]},
        )
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    if call.state.clock() - trigger.issued_at > call.state.trigger_ttl:
        raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger


def _check_external_id(state: SlackState, team_id: str, external_id: str, own_id: str | None = None) -> None:
    if not external_id:
        return
    if len(external_id) > 255:
        raise SlackError("invalid_arguments")
    for view in state.views.values():
        if view.team_id == team_id and view.external_id == external_id and view.id != own_id and view.open:
            raise SlackError("duplicate_external_id")


def _new_view(
    call: Call, user_id: str, payload: dict[str, Any], root: str | None, previous: str | None
) -> View:
    token = call.token
    assert token is not None
    view_id = call.state.new_id("V")
    external_id = str(payload.get("external_id", ""))
    _check_external_id(call.state, call.team.id, external_id)
    view = View(
        id=view_id,
        team_id=call.team.id,
        user_id=user_id,
        type=str(payload["type"]),
        payload=payload,
        hash=_hash(call.state),
        root_view_id=root or view_id,
        previous_view_id=previous,
        app_id=call.state.app_id,
        bot_id=token.bot_id or "",
        external_id=external_id,
    )
    call.state.views[view.id] = view
    return view


def _hash(state: SlackState) -> str:
    return f"{state.now()}.{state.new_id('')}"


@views.method("views.open")
def open_(call: Call) -> Result:
    """Open a modal for the user who caused the trigger."""
    payload = _payload(call, modal=True)
    trigger = _exchange(call)
    for old in call.state.modal_stacks.get(trigger.user_id, []):
        call.state.views[old].open = False
    view = _new_view(call, trigger.user_id, payload, None, None)
    call.state.modal_stacks[trigger.user_id] = [view.id]
    return {"view": view_json(view)}


@views.method("views.push")
def push(call: Call) -> Result:
    """Push a view onto the user's open modal (at most 3 views in the stack)."""
    payload = _payload(call, modal=True)
    trigger = _exchange(call)
    stack = call.state.modal_stacks.get(trigger.user_id) or []
    if not stack:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] no modal is open"]})
    if len(stack) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    view = _new_view(call, trigger.user_id, payload, stack[0], stack[-1])
    stack.append(view.id)
    return {"view": view_json(view)}


@views.method("views.update")
def update(call: Call) -> Result:
    """Replace an open view, by view_id or external_id, optionally guarded by hash."""
    view_id, external_id = call.get_str("view_id"), call.get_str("external_id")
    if not view_id and not external_id:
        raise SlackError("invalid_arguments")
    view = next(
        (
            v
            for v in call.state.views.values()
            if v.team_id == call.team.id
            and (v.id == view_id or (external_id and v.external_id == external_id))
        ),
        None,
    )
    if view is None or not view.open:
        raise SlackError("not_found")
    payload = _payload(call, modal=view.type == "modal")
    given_hash = call.get_str("hash")
    if given_hash and given_hash != view.hash:
        raise SlackError("hash_conflict")
    new_external = str(payload.get("external_id", view.external_id))
    _check_external_id(call.state, call.team.id, new_external, own_id=view.id)
    view.payload, view.external_id, view.hash = payload, new_external, _hash(call.state)
    return {"view": view_json(view)}


@views.method("views.publish")
def publish(call: Call) -> Result:
    """Publish a user's App Home tab."""
    user = call.user(call.get_str("user_id", required=True))
    payload = _payload(call, modal=False)
    existing = call.state.views.get(call.state.home_views.get(user.id, ""))
    given_hash = call.get_str("hash")
    if existing is not None:
        if given_hash and given_hash != existing.hash:
            raise SlackError("hash_conflict")
        existing.payload, existing.hash = payload, _hash(call.state)
        return {"view": view_json(existing)}
    view = _new_view(call, user.id, payload, None, None)
    call.state.home_views[user.id] = view.id
    return {"view": view_json(view)}
