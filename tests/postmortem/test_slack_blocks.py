"""The editor modal stays inside Slack's limits and round-trips what it shows; reminders carry Snooze."""

from __future__ import annotations

import dataclasses
from datetime import date

from emulators.slack.blocks import validate_view
from handlers.slack.ids import PostmortemId
from handlers.slack.postmortem_blocks import editor_modal, notice_blocks
from handlers.slack.postmortem_form import ModalMeta, read_form, validate
from incident_core import postmortem as pm
from incident_core import richtext as rt
from incident_core.postmortem_draft import build_draft
from incident_core.postmortem_usecases import view_of
from tests.postmortem.scenario import BOB, resolved_incident
from tests.postmortem.test_slack_postmortem import choose, values_of


def big_view() -> object:
    m = resolved_incident()
    assert m.state is not None
    d = build_draft(m.state, m.events, now=m.now())
    long = "\n".join(f"- factor {i}: " + "the pool was exhausted by retries " * 4 + f"[ev {1 + i % 5}]"
                     for i in range(60))
    items = tuple({"title": f"Follow-up {i}", "owner": BOB if i % 3 else "demo:dana", "priority": "P2",
                   "due": "2026-12-31"} for i in range(25))
    sections = {key: long for key in d.sections}  # every section near the limit: not every row fits
    m.run(pm.DraftPostmortem, actor="revenant", title=d.title, sections=sections,
          markdown="#", action_items=items, key_moments=d.key_moments)
    assert m.state is not None
    return view_of(m.state)


def test_long_sections_split_and_everything_fits_slack_limits() -> None:
    view = big_view()
    modal = editor_modal(view, channel="C1", can_approve=True)
    assert validate_view(modal, modal=True) == []
    assert len(modal["blocks"]) <= 100 and len(modal["private_metadata"]) <= 3000
    parts = [b for b in modal["blocks"] if b.get("block_id", "").startswith("pm_section:contributing_factors:")]
    assert len(parts) >= 3 and all(b["element"]["max_length"] == 3000 for b in parts)
    assert all(len(b["element"]["initial_value"]) <= 2000 for b in parts)
    assert parts[1]["label"]["text"].startswith("Contributing factors (2/")
    meta = ModalMeta.from_json(modal["private_metadata"])
    assert 0 < meta.rows < 25  # rows that did not fit are kept, not dropped (see below)


def test_what_the_modal_shows_round_trips_unchanged() -> None:
    view = big_view()
    modal = editor_modal(view, channel="C1", can_approve=False)
    meta = ModalMeta.from_json(modal["private_metadata"])
    form = read_form(values_of(modal), meta, view.action_items)  # type: ignore[attr-defined]
    assert form.sections == view.sections  # type: ignore[attr-defined]
    assert form.items == view.action_items  # type: ignore[attr-defined]
    assert form.decision == "save"
    assert validate(form, meta, today=date(2026, 11, 28), previous=view.action_items) == {}  # type: ignore[attr-defined]
    cleared = values_of(modal, **{f"{PostmortemId.ITEM_TITLE_BLOCK}:0": {"value": ""},
                                  f"{PostmortemId.ITEM_OWNER_BLOCK}:0": {"value": ""},
                                  PostmortemId.DECISION_BLOCK: choose("submit")})
    cleared[f"{PostmortemId.ITEM_ROW_BLOCK}:0"] = {}
    again = read_form(cleared, meta, view.action_items)  # type: ignore[attr-defined]
    assert [i["id"] for i in again.items] == [i["id"] for i in view.action_items[1:]]  # type: ignore[attr-defined]
    late = dataclasses.replace(form, items=[{**form.items[0], "due": "2026-01-01"}, *form.items[1:]])
    errors = validate(late, meta, today=date(2026, 11, 28), previous=view.action_items)  # type: ignore[attr-defined]
    assert list(errors.values()) == ["Action item 1 is due 2026-01-01, in the past; pick a later date."]


def test_tampered_metadata_is_refused_and_reminders_offer_snooze() -> None:
    try:
        ModalMeta.from_json('{"not": "ours"}')
    except Exception as exc:  # noqa: BLE001
        assert "out of date" in str(exc)
    else:
        raise AssertionError("tampered metadata accepted")
    blocks = notice_blocks(rt.doc(rt.para(rt.emoji("bell"), " INC-1 has had no update")), "inc-1", "status_update")
    assert blocks[1]["elements"][0]["action_id"] == PostmortemId.REMINDER_SNOOZE
    assert notice_blocks(rt.doc("x"), "inc-1", None)[1:] == []
