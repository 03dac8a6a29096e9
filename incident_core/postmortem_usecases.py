"""Postmortem use cases: draft, review key moments, save edits, submit, approve, record publications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from incident_core import postmortem as pm
from incident_core import richtext as rt
from incident_core.blameless import Finding, check_sections
from incident_core.errors import InvalidTransition, NotFound
from incident_core.events import Event, PostmortemApproved, PostmortemPublished, StatusChanged
from incident_core.model import Status
from incident_core.notices import NOTICE as NOTICE  # re-exported: the subscribers import it from here
from incident_core.notices import notice_message
from incident_core.ports import IncidentQueries, OutboxMessage
from incident_core.postmortem_check import verify_section
from incident_core.postmortem_draft import Draft, build_draft
from incident_core.postmortem_lessons import DraftPolicy
from incident_core.postmortem_model import EDITABLE, LOCKED, status_of
from incident_core.postmortem_render import render_document
from incident_core.publishing import Narrator, targets_for
from incident_core.rbac import Permission, allows, require
from incident_core.richtext_json import from_json
from incident_core.state import IncidentState
from incident_core.state_models import PostmortemItem
from incident_core.timeline import short_actor, with_names
from incident_core.usecases import Deps, Result, apply_command, role_of, run_command

SYSTEM = "revenant"
PUBLISH = "postmortem.publish"


@dataclass(frozen=True)
class PostmortemView:
    """The postmortem of one incident as a chat surface or the CLI shows it."""

    state: IncidentState
    status: str | None
    sections: dict[str, str]
    action_items: list[PostmortemItem]
    findings: list[Finding]
    document: rt.Rich


def people_of(state: IncidentState) -> list[str]:
    """Everyone named on the incident (for the blameless checker's person-as-subject rule)."""
    people = [state.declared_by, *state.roles.values()]
    people += [a.requested_by for a in state.actions.values() if a.requested_by]
    return [p for p in dict.fromkeys(people) if p and not p.startswith("signal:") and p != SYSTEM]


def view_of(state: IncidentState) -> PostmortemView:
    """Sections, action items, blameless findings and Markdown of the current postmortem."""
    sections = dict(state.postmortem.sections)
    return PostmortemView(state=state, status=state.postmortem.status, sections=sections,
                          action_items=list(state.postmortem.action_items),
                          findings=check_sections(sections, people=people_of(state)),
                          document=render_document(state) if sections else rt.Rich())


def _load(queries: IncidentQueries, org_id: str, incident_id: str) -> IncidentState:
    state = queries.get(org_id, incident_id)
    if state is None:
        raise NotFound(f"no incident {incident_id} in this org")
    return state


def accept_narrative(draft: Draft, narrated: Draft, known_versions: set[int]) -> Draft:
    """Keep each rephrased section only if it passes the fact check; otherwise the deterministic text."""
    everything = "\n".join(draft.sections.values()) + "\n" + draft.title
    sections, rejected = dict(draft.sections), []
    for name, text in narrated.sections.items():
        if name not in draft.sections or text == draft.sections[name]:
            continue
        problems = verify_section(name, draft.sections[name], text, known_versions=known_versions,
                                  draft_text=everything)
        if problems:
            rejected.append(f"{name}: {problems[0].reason}")
        else:
            sections[name] = text
    used = any(sections[k] != draft.sections[k] for k in sections)
    notes = "; ".join(x for x in (narrated.notes, *rejected) if x)
    return replace(draft, sections=sections, source="llm" if used else "deterministic", notes=notes[:2000])


def draft_postmortem(*, deps: Deps, queries: IncidentQueries, org_id: str, incident_id: str, actor: str,
                     narrator: Narrator | None = None, replace_existing: bool = False,
                     idempotency_key: str | None = None, check_role: bool = True,
                     announce: bool = False) -> PostmortemView:
    """Draft from the timeline (reviewed key moments when there are any); an existing draft is returned.

    With `announce`, a chat notice leaves through the outbox in the same transaction as the draft.
    """
    state = _load(queries, org_id, incident_id)
    if status_of(state) in EDITABLE | LOCKED and not replace_existing:
        return view_of(state)
    events = queries.timeline(org_id, state.incident_id)
    org = deps.directory.org(org_id)
    policy = DraftPolicy.from_settings(org.config.postmortem if org else None)
    reviewed = tuple(state.postmortem.key_moments) if state.postmortem.reviewed_by else None
    draft = build_draft(state, events, now=deps.clock.now(), key_moments=reviewed, policy=policy)
    if narrator is not None:
        known = {e.version for e in events}
        try:
            draft = accept_narrative(draft, narrator.narrate(draft, known_versions=known), known)
        except Exception as exc:  # noqa: BLE001 — the deterministic draft is complete on its own
            draft = replace(draft, notes=f"narrative not used: {type(exc).__name__}")
    names = deps.directory.display_names(org_id)
    draft = replace(draft, sections={k: with_names(v, names) for k, v in draft.sections.items()})
    document = render_document(state, sections=draft.sections, action_items=list(draft.action_items),
                               title=draft.title, names=names)
    command = pm.DraftPostmortem(
        org_id=org_id, incident_id=state.incident_id, actor=actor, occurred_at=deps.clock.now(),
        title=draft.title, sections=draft.sections, markdown=document.plain(), action_items=draft.action_items,
        key_moments=draft.key_moments, source=draft.source, notes=draft.notes, replace=replace_existing)
    try:
        result = run_command(deps=deps, build=lambda _n: command, permission=Permission.EDIT_POSTMORTEM,
                             idempotency_key=idempotency_key, check_role=check_role,
                             outbox=_drafted_notice if announce else None)
    except InvalidTransition:
        latest = _load(queries, org_id, incident_id)
        if status_of(latest) in EDITABLE:
            return view_of(latest)  # someone drafted it at the same moment
        raise
    return view_of(result.state)


def _drafted_notice(state: IncidentState, events: list[Event]) -> list[OutboxMessage]:
    view = view_of(state)
    text = rt.doc(rt.para(
        rt.emoji("memo"), f" {state.human_id} is {state.status.value}: its postmortem is drafted from the timeline "
        f"({state.postmortem.source}, {len(view.action_items)} action item(s), "
        f"{len(view.findings)} blameless warning(s)). Review it with ", rt.cmd("postmortem"), "."))
    return [notice_message(state.incident_id, text, f"pm-drafted:{state.incident_id}:{state.version}")]


def review_key_moments(*, deps: Deps, org_id: str, incident_id: str, actor: str, versions: Sequence[int],
                       idempotency_key: str | None = None) -> Result:
    """The commander confirms or corrects which events are the key moments (before or after drafting)."""
    role = role_of(deps=deps, org_id=org_id, actor=actor)
    require(role, Permission.EDIT_POSTMORTEM, actor=actor)
    command = pm.ReviewKeyMoments(org_id=org_id, incident_id=incident_id, actor=actor, occurred_at=deps.clock.now(),
                                  key_moments=tuple(versions),
                                  org_commander=allows(role, Permission.APPROVE_POSTMORTEM))
    return apply_command(deps=deps, command=command, check_role=False, idempotency_key=idempotency_key)


def save_edits(*, deps: Deps, org_id: str, incident_id: str, actor: str, sections: dict[str, str] | None = None,
               action_items: Sequence[dict[str, Any]] | None = None, idempotency_key: str | None = None) -> Result:
    """Save changed sections and action items; each change is its own PostmortemEdited event."""
    command = pm.SavePostmortemEdits(org_id=org_id, incident_id=incident_id, actor=actor,
                                     occurred_at=deps.clock.now(), sections=dict(sections or {}),
                                     action_items=None if action_items is None else tuple(action_items))
    return apply_command(deps=deps, command=command, permission=Permission.EDIT_POSTMORTEM,
                         idempotency_key=idempotency_key)


def submit_postmortem(*, deps: Deps, queries: IncidentQueries, org_id: str, incident_id: str, actor: str,
                      idempotency_key: str | None = None) -> Result:
    """Ask a commander to approve; open blameless warnings are counted on the event."""
    state = _load(queries, org_id, incident_id)
    command = pm.SubmitPostmortem(org_id=org_id, incident_id=state.incident_id, actor=actor,
                                  occurred_at=deps.clock.now(), warnings=len(view_of(state).findings))
    return apply_command(deps=deps, command=command, permission=Permission.EDIT_POSTMORTEM,
                         idempotency_key=idempotency_key)


def publish_targets(*, deps: Deps, state: IncidentState) -> dict[str, Any]:
    """The publishing targets configured for this incident's org and project."""
    org = deps.directory.org(state.org_id)
    project = deps.directory.project(state.org_id, state.project_id) if state.project_id else None
    return targets_for(org.settings if org else {}, project.settings if project else None,
                       project.name if project else None)


def notice_content(payload: dict[str, Any]) -> rt.Rich:
    """The rich text of a NOTICE payload (`content`; payloads written before rich text carry `text`)."""
    return from_json(payload["content"] if "content" in payload else str(payload.get("text", "")))


def approve_postmortem(*, deps: Deps, queries: IncidentQueries, org_id: str, incident_id: str, actor: str,
                       idempotency_key: str | None = None) -> Result:
    """An org commander or admin approves; one outbox message per target publishes it exactly once."""
    role = role_of(deps=deps, org_id=org_id, actor=actor)
    require(role, Permission.APPROVE_POSTMORTEM, actor=actor)
    state = _load(queries, org_id, incident_id)
    targets = tuple(publish_targets(deps=deps, state=state))
    command = pm.ApprovePostmortem(org_id=org_id, incident_id=state.incident_id, actor=actor,
                                   occurred_at=deps.clock.now(), targets=targets,
                                   org_commander=allows(role, Permission.APPROVE_POSTMORTEM),
                                   warnings=len(view_of(state).findings))

    def outbox(new: IncidentState, events: list[Event]) -> list[OutboxMessage]:
        if not any(isinstance(e, PostmortemApproved) for e in events):
            return []
        iid = new.incident_id
        return [OutboxMessage(topic=PUBLISH, payload={"incident_id": iid, "target": t}, key=f"pm:{iid}:{t}")
                for t in targets] + [notice_message(iid, rt.doc(rt.para(
                    rt.emoji("white_check_mark"), f" {new.human_id}'s postmortem was approved by ",
                    rt.mention(actor, short_actor(actor)), f"; publishing to {', '.join(targets)}…")),
                    f"pm-approved:{iid}")]

    return run_command(deps=deps, build=lambda _n: command, permission=Permission.APPROVE_POSTMORTEM,
                       check_role=False, idempotency_key=idempotency_key, outbox=outbox)


def record_publication(*, deps: Deps, org_id: str, incident_id: str, target: str, url: str,
                       ref: str = "") -> Result:
    """Record where one target published it (once per target); the last one closes the incident."""
    command = pm.RecordPublication(org_id=org_id, incident_id=incident_id, actor=SYSTEM,
                                   occurred_at=deps.clock.now(), target=target, url=url, ref=ref)

    def outbox(new: IncidentState, events: list[Event]) -> list[OutboxMessage]:
        out = [notice_message(new.incident_id, rt.doc(rt.para(
            rt.emoji("page_facing_up"), f" {new.human_id}'s postmortem is published to {e.target}: ",
            rt.link(e.url) or e.url)), f"pm-published:{new.incident_id}:{e.target}")
               for e in events if isinstance(e, PostmortemPublished)]
        if any(isinstance(e, StatusChanged) and e.to_status is Status.CLOSED for e in events):
            out.append(notice_message(new.incident_id, rt.doc(rt.para(
                rt.emoji("lock"), f" {new.human_id} is closed: its postmortem is published everywhere it was "
                "configured to go.")), f"pm-closed:{new.incident_id}"))
        return out

    return run_command(deps=deps, build=lambda _n: command, permission=Permission.UPDATE, check_role=False,
                       idempotency_key=f"pm-published:{incident_id}:{target}", outbox=outbox)


def summary_text(view: PostmortemView, *, limit: int = 6) -> rt.Rich:
    """A chat-sized summary of the postmortem: status, summary lines, action items, blameless warnings."""
    s = view.state
    source = s.postmortem.source
    blocks: list[rt.Block] = [rt.para(
        rt.b(f"Postmortem for {s.human_id}"), f" — {view.status or 'not drafted'} ({source}), "
        f"{len(view.action_items)} action item(s), {len(view.findings)} blameless warning(s).")]
    summary = view.sections.get("summary", "").splitlines()[:4]
    if summary:
        blocks.append(rt.Quote(rt.lines(*summary).parts))
    rows: list[tuple[rt.Inline, ...]] = []
    for item in view.action_items[:limit]:
        owner = str(item.get("owner") or "")
        rows.append(rt.inline(f"{item.get('title')} — ", rt.mention(owner, short_actor(owner)) if owner else "no owner",
                              f", {item.get('priority') or 'no priority'}, due {item.get('due') or '?'}"))
    if rows:
        blocks.append(rt.Bullets(tuple(rows)))
    notes = [rt.inline(rt.emoji("warning"), f" {f.section.replace('_', ' ')}: “{f.phrase[:60]}” — {f.suggestion}")
             for f in view.findings[:limit]]
    published = s.postmortem.published
    notes += [rt.inline(rt.emoji("page_facing_up"), f" {target}: ", rt.link(str(url)) or str(url))
              for target, url in published.items()]
    if notes:
        blocks.append(rt.lines(*notes))
    return rt.Rich(tuple(blocks))
