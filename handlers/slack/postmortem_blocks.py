"""Block Kit for postmortems: the review and editor modals (within Slack's limits) and chat notices."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handlers.slack.ids import InputId, PostmortemId
from handlers.slack.mrkdwn import SlackText, context, cut, escape_plain, section
from handlers.slack.postmortem_form import ModalMeta, fingerprint, row_block, section_block
from incident_core import richtext as rt
from incident_core.blameless import summarize
from incident_core.postmortem_model import MAX_ITEMS, PRIORITIES, SECTIONS
from incident_core.postmortem_render import PostmortemDocument, section_blocks, split_text
from incident_core.postmortem_usecases import PostmortemView

MAX_BLOCKS = 100
INPUT_MAX = 3000  # plain_text_input max_length
CHUNK = 2000  # initial text per input, leaving room to add to it
SNOOZE_MINUTES = 30


def _plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(escape_plain(text), limit) or " "}


def _section(content: rt.Rich) -> dict[str, Any]:
    return section(cut(SlackText().mrkdwn(content), 3000))


def _modal(title: str, blocks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": _plain(title, 24), "close": _plain("Close", 24), "blocks": blocks, **extra}


def loading_modal(human_id: str | None = None) -> dict[str, Any]:
    """Shown at once (the trigger id is good for 3 s) while the draft is prepared."""
    what = f"the postmortem of {human_id}" if human_id else "the postmortem"
    return _modal("Postmortem", [_section(rt.doc(rt.para(rt.emoji("hourglass_flowing_sand"),
                                                        f" Preparing {what} from the timeline…")))])


def message_modal(content: rt.Rich, title: str = "Postmortem") -> dict[str, Any]:
    """A modal that only says something (an error, or a read-only summary)."""
    return _modal(title, SlackText().sections(content)[:20])


def review_modal(human_id: str, meta: ModalMeta, candidates: list[tuple[int, str]],
                 chosen: set[int]) -> dict[str, Any]:
    """Step one for the commander: confirm or correct the key moments before the draft is written."""
    options: list[dict[str, Any]] = [{"text": _plain(label, 75), "value": str(version)}
                                     for version, label in candidates[-100:]]
    initial = [o for o in options if int(o["value"]) in chosen]
    element: dict[str, Any] = {"type": "multi_static_select", "action_id": InputId.VALUE, "options": options,
                               "placeholder": _plain("Pick the moments that tell the story")}
    if initial:
        element["initial_options"] = initial
    blocks = [_section(rt.doc(rt.para(rt.b(f"Key moments of {human_id}")), rt.para(
                  "The draft's timeline is built from the moments you keep. 📌 messages, status changes, notes and "
                  "actions are pre-selected."))),
              {"type": "input", "block_id": PostmortemId.MOMENTS_BLOCK, "label": _plain("Key moments"),
               "element": element, "optional": True}]
    return _modal(f"Review {human_id}", blocks, callback_id=PostmortemId.REVIEW_CALLBACK,
                  submit=_plain("Draft it", 24), private_metadata=meta.to_json())


def _row(row: int, item: Mapping[str, Any]) -> list[dict[str, Any]]:
    title_input = {"type": "plain_text_input", "action_id": InputId.VALUE, "max_length": 300,
                   "placeholder": _plain("What will change (a system change, not a person's duty)")}
    if item.get("title"):
        title_input["initial_value"] = str(item["title"])[:300]
    kind = f" · {item['kind']}" if item.get("kind") else ""
    blocks: list[dict[str, Any]] = [{"type": "input", "block_id": row_block(PostmortemId.ITEM_TITLE_BLOCK, row),
                                     "optional": True, "label": _plain(f"Action item {row + 1}{kind}"),
                                     "element": title_input}]
    owner = str(item.get("owner") or "")
    elements: list[dict[str, Any]] = []
    if owner and not owner.startswith("slack:"):
        blocks.append({"type": "input", "block_id": row_block(PostmortemId.ITEM_OWNER_BLOCK, row), "optional": True,
                       "label": _plain(f"Owner of item {row + 1}"),
                       "element": {"type": "plain_text_input", "action_id": InputId.VALUE, "initial_value": owner}})
    else:
        picker: dict[str, Any] = {"type": "users_select", "action_id": PostmortemId.ITEM_OWNER,
                                  "placeholder": _plain("Owner")}
        if owner:
            picker["initial_user"] = owner.removeprefix("slack:")
        elements.append(picker)
    options = [{"text": _plain(p), "value": p} for p in PRIORITIES]
    priority: dict[str, Any] = {"type": "static_select", "action_id": PostmortemId.ITEM_PRIORITY,
                                "placeholder": _plain("Priority"), "options": options}
    if item.get("priority") in PRIORITIES:
        priority["initial_option"] = options[PRIORITIES.index(item["priority"])]
    due: dict[str, Any] = {"type": "datepicker", "action_id": PostmortemId.ITEM_DUE, "placeholder": _plain("Due")}
    if item.get("due"):
        due["initial_date"] = item["due"]
    blocks.append({"type": "actions", "block_id": row_block(PostmortemId.ITEM_ROW_BLOCK, row),
                   "elements": [*elements, priority, due]})
    return blocks


def editor_modal(view: PostmortemView, *, channel: str | None, can_approve: bool) -> dict[str, Any]:
    """Sections split across inputs (≤ 3000 characters each), action item rows, warnings and the decision."""
    state = view.state
    head: list[dict[str, Any]] = [{"type": "context", "elements": [context(cut(SlackText().inline(rt.inline(
        rt.b(view.status or "draft"), f" ({state.postmortem.source}) · "
        f"{state.severity.value} · {len(view.action_items)} action item(s) · ", rt.code("[ev N]"),
        " cites event N of the timeline")), 3000))]}]
    if view.findings:
        head.append(_section(rt.doc(rt.para(rt.b("Blameless check"), f" — {len(view.findings)} phrase(s) to reword:"),
                                    rt.bullets(*summarize(view.findings, limit=8)))))
    inputs: list[dict[str, Any]] = []
    layout: list[tuple[str, int]] = []
    for key, title in SECTIONS:
        chunks = split_text(view.sections.get(key, ""), CHUNK)
        layout.append((key, len(chunks)))
        for part, chunk in enumerate(chunks):
            element: dict[str, Any] = {"type": "plain_text_input", "action_id": InputId.VALUE, "multiline": True,
                                       "max_length": INPUT_MAX}
            if chunk:
                element["initial_value"] = chunk
            label = title if len(chunks) == 1 else f"{title} ({part + 1}/{len(chunks)})"
            inputs.append({"type": "input", "block_id": section_block(key, part), "label": _plain(label),
                           "element": element, "optional": not (key == "summary" and part == 0)})
    options = [{"text": _plain("Save draft"), "value": "save"}]
    if view.status == "draft":
        options.append({"text": _plain("Submit for approval"), "value": "submit"})
    if can_approve:
        options.append({"text": _plain("Approve and publish"), "value": "approve"})
    decision = {"type": "input", "block_id": PostmortemId.DECISION_BLOCK, "label": _plain("When I press Save"),
                "element": {"type": "radio_buttons", "action_id": InputId.VALUE, "options": options,
                            "initial_option": options[0]}}
    items = list(view.action_items)
    room = MAX_BLOCKS - len(head) - len(inputs) - 2
    rows: list[dict[str, Any]] = []
    count = 0
    blank: Mapping[str, Any] = {}
    for row, item in enumerate([*items, blank, blank][:MAX_ITEMS]):
        made = _row(row, item)
        if len(rows) + len(made) > room:
            break
        rows += made
        count += 1
    meta = ModalMeta(incident_id=state.incident_id, channel=channel, sections=tuple(layout), rows=count,
                     hashes={k: fingerprint(view.sections.get(k, "")) for k, _ in SECTIONS},
                     items_hash=fingerprint(items), item_ids=tuple(str(i.get("id")) for i in items[:count]))
    blocks = [*head, *inputs, _section(rt.doc(rt.para(rt.b("Action items"),
                                                      " — owner, priority and due date are needed to submit"))),
              *rows, decision]
    return _modal(f"Postmortem {state.human_id}", blocks, callback_id=PostmortemId.EDIT_CALLBACK,
                  submit=_plain("Save", 24), private_metadata=meta.to_json())


def summary_message(doc: PostmortemDocument, links: dict[str, str]) -> dict[str, Any]:
    """The published postmortem's summary: header, summary, action items, links, and the marker that finds it."""
    say = SlackText()
    items = rt.bullets(*((rt.one_line(str(i.get("title")), 200), f" — {i.get('priority') or '?'}, due "
                          f"{i.get('due') or '?'}") for i in doc.action_items[:10])) if doc.action_items else \
        rt.para(rt.em("No action items."))
    linked = [rt.inline(f"{name}: ", rt.link(url)) for name, url in links.items() if rt.link(url)]
    more = rt.para(rt.join(linked, " · ")) if linked else None
    summary = rt.doc(*section_blocks(doc.summary)) if doc.summary.strip() else rt.doc(rt.para(rt.em("No summary.")))
    blocks = [{"type": "header", "text": _plain(f"Postmortem: {rt.one_line(doc.title, 200)}", 150)},
              section(cut(say.mrkdwn(summary), 2900)),
              section(cut(say.mrkdwn(rt.doc(rt.para(rt.b("Action items")), items, more)), 2900)),
              {"type": "context", "elements": [context(say.inline(rt.inline(
                  f"{doc.severity} · approved by {doc.approver.split(':')[-1]} · ", rt.code(doc.label))))]}]
    return {"text": escape_plain(f"Postmortem published: {rt.one_line(doc.title, 200)}"), "blocks": blocks}


def notice_blocks(content: rt.Rich, incident_id: str, snooze: str | None) -> list[dict[str, Any]]:
    """A notice in the incident channel; status-update reminders carry a Snooze button."""
    blocks = SlackText().sections(content)
    if snooze:
        blocks.append({"type": "actions", "block_id": "reminder_actions", "elements": [{
            "type": "button", "action_id": PostmortemId.REMINDER_SNOOZE,
            "text": _plain(f"Snooze {SNOOZE_MINUTES} min"),
            "value": json.dumps({"i": incident_id, "k": snooze, "m": SNOOZE_MINUTES})}]})
    return blocks
