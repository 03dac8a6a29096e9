"""`/revenant postmortem` over real HTTP with signed requests: review, editor limits, inline validation,
edits as events, submit, approve, then publishing to GitHub, Jira and Slack with progress in the channel."""

from __future__ import annotations

import json
from typing import Any

from handlers.slack.ids import PostmortemId
from tests.postmortem.conftest import SlackPostmortemWorld
from tests.slack.conftest import SlackWorld, eventually


def run(w: SlackWorld, user: str, channel: str, text: str) -> None:
    delivery, url = w.sender.command(user, channel, text)
    assert delivery.status == 200, delivery.body
    eventually(lambda: w.slack.responses(url), what=text)


def modal(w: SlackWorld, user: str, callback: str) -> dict[str, Any]:
    return eventually(lambda: next((v for v in w.slack.modal_stack(user) if v["callback_id"] == callback), None),
                      what=f"{callback} modal")


def open_postmortem(w: SlackWorld, user: str, channel: str, callback: str) -> dict[str, Any]:
    delivery, _ = w.sender.command(user, channel, "postmortem")
    assert delivery.status == 200  # acked; the emulator refuses views.open with an expired (3 s) trigger id
    return modal(w, user, callback)


def values_of(view: dict[str, Any], **changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What Slack submits for an untouched modal (initial values), with some blocks changed."""
    out: dict[str, dict[str, Any]] = {}
    for block in view["blocks"]:
        elements = [block["element"]] if block["type"] == "input" else block.get("elements", [])
        if block["type"] not in ("input", "actions"):
            continue
        for el in elements:
            state: dict[str, Any] = {"type": el["type"]}
            kind = el["type"]
            if kind == "plain_text_input":
                state["value"] = el.get("initial_value")
            elif kind == "users_select":
                state["selected_user"] = el.get("initial_user")
            elif kind == "datepicker":
                state["selected_date"] = el.get("initial_date")
            elif kind in ("static_select", "radio_buttons"):
                state["selected_option"] = el.get("initial_option")
            elif kind == "multi_static_select":
                state["selected_options"] = el.get("initial_options", [])
            out.setdefault(block["block_id"], {})[el["action_id"]] = state
    for block_id, state in changes.items():
        out.setdefault(block_id, {}).setdefault("value", {}).update(state)
    return out


def choose(decision: str) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": {"value": decision}}


def test_review_edit_validate_submit_approve_and_publish(slack_pm_world: SlackPostmortemWorld) -> None:
    world = slack_pm_world
    w = world.slack_world
    run(w, w.alice, w.general, "declare Checkout latency spike sev2")
    channel = w.channel_of()
    _, msg = w.sender.message(w.bob, channel, "Bob forgot to raise the pool size before the deploy")
    w.sender.reaction(w.alice, channel, msg["ts"], "pushpin")
    eventually(lambda: w.incident().key_moments, what="key moment")
    for text in ("status identified pool exhaustion after the deploy", "note follow-up: alert on pool saturation",
                 "status mitigated rolled back checkout"):
        run(w, w.alice, channel, text)

    review = open_postmortem(w, w.alice, channel, PostmortemId.REVIEW_CALLBACK)
    options = review["blocks"][1]["element"]["options"]
    keep = [o for o in options if "declared" not in o["text"]["text"]]
    assert any("📌" in o["text"]["text"] for o in keep)
    moments = {PostmortemId.MOMENTS_BLOCK: {"value": {"type": "multi_static_select", "selected_options": keep}}}
    assert w.sender.submit_view(w.alice, review, moments).status == 200
    editor = modal(w, w.alice, PostmortemId.EDIT_CALLBACK)
    state = w.incident()
    assert state.postmortem.reviewed_by == f"slack:{w.alice}"
    assert list(state.postmortem.key_moments) == sorted(int(o["value"]) for o in keep)
    assert len(state.postmortem.sections["timeline"].splitlines()) == len(keep)
    assert len(editor["blocks"]) <= 100 and len(editor["private_metadata"]) <= 3000
    inputs = [b["element"] for b in editor["blocks"] if b["type"] == "input"]
    assert all(len(e.get("initial_value", "")) <= e.get("max_length", 3000) <= 3000 for e in inputs)
    text = json.dumps(editor["blocks"])
    assert "Blameless check" in text and "forgot" in text and "Approve and publish" in text

    bobs = open_postmortem(w, w.bob, channel, PostmortemId.EDIT_CALLBACK)
    assert "Approve and publish" not in json.dumps(bobs["blocks"])
    forged = w.sender.submit_view(w.bob, bobs, values_of(bobs, **{PostmortemId.DECISION_BLOCK: choose("approve")}))
    assert forged.json()["response_action"] == "errors"
    assert "org commander or admin" in forged.json()["errors"][PostmortemId.DECISION_BLOCK]
    bad = values_of(bobs, **{"pm_section:summary:0": {"value": ""}, PostmortemId.DECISION_BLOCK: choose("submit")})
    new_row = f"{PostmortemId.ITEM_TITLE_BLOCK}:{len(state.postmortem.action_items)}"
    bad[new_row] = {"value": {"type": "plain_text_input", "value": "Alert on pool saturation in staging"}}
    errors = w.sender.submit_view(w.bob, bobs, bad).json()["errors"]
    assert set(errors) == {"pm_section:summary:0", new_row} and "needs owner, priority, due" in errors[new_row]
    assert w.events().count("PostmortemEdited") == 1  # only the key-moment review: refused forms wrote nothing

    summary = state.postmortem.sections["summary"] + "\nThe rollback restored checkout. [ev 1]"
    edit = values_of(bobs, **{"pm_section:summary:0": {"value": summary}, PostmortemId.DECISION_BLOCK: choose("submit")})
    assert w.sender.submit_view(w.bob, bobs, edit).status == 200
    eventually(lambda: w.incident().postmortem.status == "submitted", what="submitted")
    timeline = w.app.queries.timeline(w.org_id, state.incident_id)
    edits = [(e.section, e.actor) for e in timeline if e.type_name == "PostmortemEdited"]
    assert edits == [("key_moments", f"slack:{w.alice}"), ("summary", f"slack:{w.bob}")]
    eventually(lambda: any("submitted INC-1's postmortem" in m.get("text", "") for m in w.slack.messages(channel)))

    run(w, w.alice, channel, "status resolved errors back to normal")
    approve = open_postmortem(w, w.alice, channel, PostmortemId.EDIT_CALLBACK)
    assert w.sender.submit_view(w.alice, approve, values_of(
        approve, **{PostmortemId.DECISION_BLOCK: choose("approve")})).status == 200
    closed = eventually(lambda: (s := w.incident()).status.value == "closed" and s, timeout=20, what="closed")
    assert set(closed.postmortem.published) == {"github", "jira", "slack", "knowledge"}
    assert len(world.gh.pull_requests("acme", "postmortems")) == 1
    assert len(world.jira.issues("OPS")) == 1 + len(closed.postmortem.action_items)
    summary_posts = w.slack.messages(world.postmortems_channel)
    assert len(summary_posts) == 1 and "Postmortem: INC-1" in json.dumps(summary_posts[0]["blocks"])
    def texts() -> list[str]:
        return [m.get("text", "") for m in w.slack.messages(channel)]

    said = eventually(lambda: any("is closed" in t for t in texts()) and texts(), what="closed notice")
    assert any("approved by" in t for t in said) and sum("is published to" in t for t in said) == 4


def test_not_an_incident_channel_and_viewers_get_an_explanation(slack_pm_world: SlackPostmortemWorld) -> None:
    w = slack_pm_world.slack_world
    w.sender.command(w.alice, w.general, "postmortem")
    shown = eventually(lambda: [v for v in w.slack.modal_stack(w.alice) if "incident's channel" in json.dumps(v)])
    assert shown
    run(w, w.alice, w.general, "declare Search is slow")
    channel = w.channel_of()
    run(w, w.alice, channel, "status mitigated cache warmed")
    w.sender.command(w.carol, channel, "postmortem")
    viewer = eventually(lambda: [v for v in w.slack.modal_stack(w.carol) if "viewer" in json.dumps(v)])
    assert viewer and "PostmortemDrafted" not in w.events()
