"""The postmortem review and approval form on Teams: an Adaptive Card with one input per section.

The same use cases as Slack's modal (save edits, submit, approve) with the same permissions: anyone
who may edit saves and submits; only an org commander or admin approves (the use case refuses the
rest, and the refusal is shown to the person who clicked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.teams.cards import card
from handlers.teams.markdown import escape
from incident_core.postmortem_model import SECTION_TITLES, SECTIONS
from incident_core.postmortem_usecases import PostmortemView

INPUT_PREFIX = "pm_"
EDITABLE_LIMIT = 4000  # longer sections are shown read-only here (Teams cards stay under their size limit)


def _text(text: str, **style: Any) -> dict[str, Any]:
    """A TextBlock showing outside text exactly (cut, then escaped)."""
    return {"type": "TextBlock", "text": escape(text[:EDITABLE_LIMIT]), "wrap": True, **style}


def review_card(view: PostmortemView, verbs: Mapping[str, str]) -> dict[str, Any]:
    """Sections as editable inputs, blameless warnings, and Save / Submit for approval / Approve and publish."""
    state = view.state
    body: list[dict[str, Any]] = [
        _text(f"Postmortem — {state.human_id} {state.title}", size="Medium", weight="Bolder"),
        _text(f"Status: {view.status or 'not drafted'} · every factual line cites its events [ev N]",
              isSubtle=True, spacing="None"),
    ]
    for finding in view.findings[:8]:
        body.append(_text(f"⚠ {SECTION_TITLES.get(finding.section, finding.section)}: “{finding.phrase}” — "
                          f"{finding.suggestion}", color="Warning"))
    for key, title in SECTIONS:
        text = view.sections.get(key, "")
        if len(text) > EDITABLE_LIMIT:
            body += [_text(title, weight="Bolder"), _text(text[:EDITABLE_LIMIT] + " …", isSubtle=True)]
            continue
        body.append({"type": "Input.Text", "id": f"{INPUT_PREFIX}{key}", "label": title, "isMultiline": True,
                     "value": text, "maxLength": EDITABLE_LIMIT})
    data = {"incident_id": state.incident_id}
    actions = [{"type": "Action.Execute", "title": title, "verb": verb, "data": data}
               for title, verb in (("Save draft", verbs["save"]), ("Submit for approval", verbs["submit"]),
                                   ("Approve and publish", verbs["approve"]))]
    return card(body, actions=actions)


def edited_sections(view: PostmortemView, data: Mapping[str, Any]) -> dict[str, str]:
    """The sections whose input differs from the saved text (only those become edit events)."""
    changed = {}
    for key, _title in SECTIONS:
        field = f"{INPUT_PREFIX}{key}"
        if field in data and isinstance(data[field], str) and data[field].strip() != view.sections.get(key, "").strip():
            changed[key] = data[field].strip()
    return changed


