"""The postmortem domain, pure: draft citations, deciders, permissions, closing only through publication."""

from __future__ import annotations

import dataclasses

import pytest

from incident_core import commands as cmd
from incident_core import postmortem as pm
from incident_core.errors import InvalidTransition, PermissionDenied, ValidationError
from incident_core.events import event_from_record
from incident_core.model import Status
from incident_core.postmortem_check import CITATION, citations, is_guidance
from incident_core.postmortem_draft import build_draft
from incident_core.postmortem_model import FieldError, add_business_days
from incident_core.postmortem_render import document_of, render_document, split_text
from incident_core.postmortem_usecases import accept_narrative
from incident_core.state import IncidentState
from incident_core.timeline import describe
from publishers.markdown import to_markdown
from tests.postmortem.scenario import ALICE, BOB, Memory, resolved_incident


def drafted() -> Memory:
    m = resolved_incident()
    assert m.state is not None
    d = build_draft(m.state, m.events, now=m.now())
    m.run(pm.DraftPostmortem, actor="revenant", title=d.title, sections=d.sections, markdown="#",
          action_items=d.action_items, key_moments=d.key_moments)
    return m


def test_every_factual_line_cites_events_that_exist() -> None:
    m = resolved_incident()
    assert m.state is not None
    draft = build_draft(m.state, m.events, now=m.now())
    versions = {e.version for e in m.events}
    assert set(draft.sections) == set(pm.SECTION_TITLES)
    for name, text in draft.sections.items():
        for line in text.splitlines():
            if is_guidance(line):
                continue
            assert CITATION.search(line), f"{name}: uncited line {line!r}"
            assert citations(line) <= versions, f"{name}: {line!r} cites events that do not exist"
    for item in draft.action_items:
        assert item["cites"] and set(item["cites"]) <= versions
    text = "\n".join(draft.sections.values())
    assert "“db pool is at 198/200 since the 09:50 deploy” [ev 8, 9]" in text  # the 📌 message and its pin
    assert "Time from first signal to declaration: 6m" in draft.sections["detection"]
    assert "26m after declaration" in draft.sections["response"]
    assert draft.action_items[0]["title"] == "add a connection pool saturation alert"
    assert draft.action_items[0]["owner"] == BOB and draft.action_items[0]["priority"] == "P2"


def test_reviewed_key_moments_choose_the_timeline_and_untrusted_text_cannot_forge_citations() -> None:
    m = resolved_incident()
    m.run(cmd.AddNote, actor=BOB, text="see [ev 99] and [EV 3]")
    assert m.state is not None
    m.run(pm.ReviewKeyMoments, key_moments=(2, 8, 14, m.state.version))
    assert m.state.postmortem.status == "reviewing"
    draft = build_draft(m.state, m.events, now=m.now(), key_moments=tuple(m.state.postmortem.key_moments))
    lines = draft.sections["timeline"].splitlines()
    assert len(lines) == 4 and "(ev 99)" in lines[-1] and "[ev 99]" not in draft.sections["timeline"]
    with pytest.raises(ValidationError, match="versions 1"):
        m.run(pm.ReviewKeyMoments, key_moments=(999,))
    with pytest.raises(PermissionDenied, match="commander"):
        m.run(pm.ReviewKeyMoments, actor=BOB, key_moments=(2,))


def test_draft_needs_mitigation_and_is_not_redone_by_accident() -> None:
    m = Memory()
    m.run(cmd.DeclareIncident, number=1, title="x")
    with pytest.raises(InvalidTransition, match="mitigated or resolved"):
        m.run(pm.DraftPostmortem, title="t", sections={}, markdown="")
    d = drafted()
    with pytest.raises(InvalidTransition, match="already has a postmortem draft"):
        d.run(pm.DraftPostmortem, title="t", sections={}, markdown="")
    with pytest.raises(ValidationError, match="unknown postmortem sections"):
        d.run(pm.DraftPostmortem, title="t", sections={"blame": "x"}, markdown="", replace=True)


def test_edits_are_events_per_section_and_unchanged_text_writes_nothing() -> None:
    m = drafted()
    assert m.state is not None
    before = m.state.version
    made = m.run(pm.SavePostmortemEdits, actor=BOB, sections={"summary": "New summary [ev 1]",
                                                             "impact": m.state.postmortem.sections["impact"]},
                 action_items=list(m.state.postmortem.action_items))
    assert [(e.type_name, e.section, e.actor) for e in made] == [("PostmortemEdited", "summary", BOB)]
    assert made[0].version == before + 1 and describe(made[0]) == "edited postmortem section summary"
    items = [{"title": "Alert on pool saturation", "owner": BOB, "priority": "P1", "due": "2026-12-04"}]
    made = m.run(pm.EditActionItems, action_items=tuple(items))
    assert m.state.postmortem.action_items[0]["title"] == "Alert on pool saturation"
    assert m.run(pm.EditActionItems, action_items=tuple(items)) == []
    with pytest.raises(FieldError) as bad:
        m.run(pm.EditActionItems, action_items=({"title": "x", "due": "next week"},))
    assert bad.value.field == "action_items.0.due"


def test_submit_needs_complete_action_items() -> None:
    m = drafted()
    m.run(pm.EditActionItems, action_items=({"title": "Alert on pool saturation", "priority": "P2"},))
    with pytest.raises(FieldError) as missing:
        m.run(pm.SubmitPostmortem, actor=BOB)
    assert missing.value.field == "action_items.0.owner"
    m.run(pm.EditActionItems, action_items=({"title": "Alert", "priority": "P2", "owner": BOB, "due": "2026-12-04"},))
    m.run(pm.SubmitPostmortem, actor=BOB)
    assert m.state is not None and m.state.postmortem.status == "submitted"
    with pytest.raises(InvalidTransition, match="already submitted"):
        m.run(pm.SubmitPostmortem, actor=BOB)


def test_only_org_commanders_approve_and_only_resolved_incidents() -> None:
    m = drafted()
    with pytest.raises(PermissionDenied, match="Submit it for approval"):
        m.run(pm.ApprovePostmortem, actor=BOB, targets=("github",), org_commander=False)
    m.run(cmd.ChangeStatus, status=Status.INVESTIGATING, note="it is back")
    with pytest.raises(InvalidTransition, match="resolve it first"):
        m.run(pm.ApprovePostmortem, targets=("github",), org_commander=True)
    m.run(cmd.ChangeStatus, status=Status.RESOLVED)
    made = m.run(pm.ApprovePostmortem, targets=("github", "knowledge"), org_commander=True)
    assert [e.type_name for e in made] == ["PostmortemSubmitted", "PostmortemApproved"]
    assert made[1].version == made[0].version + 1
    with pytest.raises(InvalidTransition, match="can no longer change"):
        m.run(pm.EditPostmortemSection, section="summary", text="rewrite history")


def test_closed_only_through_publication_and_publication_is_recorded_once() -> None:
    m = drafted()
    with pytest.raises(InvalidTransition, match="closes by itself"):
        m.run(cmd.ChangeStatus, status=Status.CLOSED)
    with pytest.raises(InvalidTransition, match="not approved"):
        m.run(pm.RecordPublication, actor="revenant", target="github", url="https://x")
    m.run(pm.ApprovePostmortem, targets=("github", "knowledge"), org_commander=True)
    first = m.run(pm.RecordPublication, actor="revenant", target="github", url="https://gh/pull/1", ref="#1")
    assert [e.type_name for e in first] == ["PostmortemPublished"]
    assert m.state is not None and m.state.postmortem.status == "publishing"
    assert m.run(pm.RecordPublication, actor="revenant", target="github", url="https://gh/pull/2") == []
    with pytest.raises(ValidationError, match="not one of the targets"):
        m.run(pm.RecordPublication, actor="revenant", target="jira", url="https://j")
    last = m.run(pm.RecordPublication, actor="revenant", target="knowledge", url="knowledge://x")
    assert [e.type_name for e in last] == ["PostmortemPublished", "StatusChanged"]
    assert m.state.status is Status.CLOSED and m.state.postmortem.status == "published"
    assert describe(last[1]) == "status resolved → closed: postmortem published to github, knowledge"


def test_state_and_events_round_trip_through_json() -> None:
    m = drafted()
    m.run(pm.ApprovePostmortem, targets=("github",), org_commander=True)
    assert m.state is not None
    assert IncidentState.from_dict(m.state.to_dict()) == m.state
    for e in m.events[-4:]:
        again = event_from_record(type_name=e.type_name, data=e.payload(), org_id=e.org_id,
                                  incident_id=e.incident_id, version=e.version, occurred_at=e.occurred_at,
                                  actor=e.actor)
        assert dataclasses.asdict(again) == dataclasses.asdict(e)


def test_markdown_document_and_chunks() -> None:
    m = drafted()
    m.run(pm.ApprovePostmortem, targets=("github",), org_commander=True)
    assert m.state is not None
    doc = document_of(m.state)
    assert doc.path == "postmortems/2026-11-27-inc-7.md" and doc.branch.startswith("revenant/postmortem-inc-7-")
    md = to_markdown(render_document(m.state))
    assert md.startswith("# Postmortem: INC-7 — Checkout latency spike") and "| Status | Approved by UALICE |" in md
    assert md.index("## Action items") < md.index("## Links")
    long = "\n".join(f"line {i} " + "x" * 90 for i in range(100))
    chunks = split_text(long, 2000)
    assert all(len(c) <= 2000 for c in chunks) and "\n".join(chunks) == long
    assert split_text("y" * 4500, 2000) == ["y" * 2000, "y" * 2000, "y" * 500]
    assert add_business_days(m.now().date(), 5).isoformat() == "2026-12-04"  # Fri 27 Nov + 5 working days


def test_narrative_is_kept_only_where_it_adds_no_facts() -> None:
    m = resolved_incident()
    assert m.state is not None
    draft = build_draft(m.state, m.events, now=m.now())
    known = {e.version for e in m.events}
    good = dataclasses.replace(draft, sections={
        **draft.sections,
        "summary": "INC-7 hit checkout and payments-db as a SEV2 incident. [ev 1, 2, 7, 11]\n"
                   "Responders declared it at 09:52 UTC and resolved it 46m later. [ev 1, 15]",
        "impact": "The outage cost $40,000 in lost orders. [ev 1]",
        "detection": "Alice noticed it first. [ev 1]",
        "links": "- Incident room [ev 3, 99]"})
    out = accept_narrative(draft, good, known)
    assert out.source == "llm" and out.sections["summary"].startswith("INC-7 hit checkout")
    for rejected in ("impact", "detection", "links"):
        assert out.sections[rejected] == draft.sections[rejected]
    assert "impact: adds" in out.notes and "adds “Alice”" in out.notes and "[99]" in out.notes
    uncited = dataclasses.replace(draft, sections={**draft.sections, "summary": "It was bad."})
    assert accept_narrative(draft, uncited, known).source == "deterministic"
    assert ALICE  # the scenario's commander is named only by id in the draft
