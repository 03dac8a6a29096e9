"""Postmortem commands and their deciders (merged into the aggregate as POSTMORTEM_DECIDERS)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from incident_core import events as ev
from incident_core import richtext as rt
from incident_core.commands import Command
from incident_core.decisions import clean, envelope
from incident_core.errors import InvalidTransition, PermissionDenied, ValidationError
from incident_core.model import Status
from incident_core.postmortem_model import (
    EDITABLE,
    LOCKED,
    MAX_KEY_MOMENTS,
    MAX_SECTION,
    SECTION_TITLES,
    FieldError,
    check_complete,
    normalize_items,
    status_of,
)
from incident_core.richtext_safety import storable
from incident_core.state import IncidentState, apply_all
from incident_core.state_models import PostmortemStatus
from incident_core.timeline import short_actor

# --- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DraftPostmortem(Command):
    title: str
    sections: dict[str, str]
    markdown: str
    action_items: tuple[Mapping[str, Any], ...] = ()
    key_moments: tuple[int, ...] = ()
    source: str = "deterministic"
    notes: str = ""
    replace: bool = False


@dataclass(frozen=True, kw_only=True)
class ReviewKeyMoments(Command):
    key_moments: tuple[int, ...]
    org_commander: bool = False


@dataclass(frozen=True, kw_only=True)
class EditPostmortemSection(Command):
    section: str
    text: str


@dataclass(frozen=True, kw_only=True)
class EditActionItems(Command):
    action_items: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True, kw_only=True)
class SavePostmortemEdits(Command):
    """Several edits saved at once (a modal's Save): one PostmortemEdited per changed section, atomically."""

    sections: dict[str, str] = field(default_factory=dict)
    action_items: tuple[Mapping[str, Any], ...] | None = None


@dataclass(frozen=True, kw_only=True)
class SubmitPostmortem(Command):
    warnings: int = 0


@dataclass(frozen=True, kw_only=True)
class ApprovePostmortem(Command):
    targets: tuple[str, ...]
    org_commander: bool = False
    warnings: int = 0


@dataclass(frozen=True, kw_only=True)
class RecordPublication(Command):
    target: str
    url: str
    ref: str = ""


# --- deciders ---------------------------------------------------------------------------------


def _require_editable(s: IncidentState) -> PostmortemStatus:
    status = status_of(s)
    if status is None or status is PostmortemStatus.REVIEWING:
        raise InvalidTransition(rt.doc(rt.para(f"{s.human_id} has no postmortem draft yet: run ",
                                               rt.cmd("postmortem"), " to draft it.")))
    if status in LOCKED:
        raise InvalidTransition(f"{s.human_id}'s postmortem was approved by "
                                f"{short_actor(str(s.postmortem.approver))}; it can no longer change.")
    return status


def _draft(s: IncidentState, c: DraftPostmortem) -> list[ev.Event]:
    if s.status not in (Status.MITIGATED, Status.RESOLVED):
        raise InvalidTransition(f"{s.human_id} is {s.status.value}; a postmortem is drafted once it is mitigated "
                                "or resolved.")
    status = status_of(s)
    if status in LOCKED:
        _require_editable(s)
    if status in EDITABLE and not c.replace:
        raise InvalidTransition(rt.doc(rt.para(f"{s.human_id} already has a postmortem draft; open it with ",
                                               rt.cmd("postmortem"), ".")))
    unknown = set(c.sections) - set(SECTION_TITLES)
    if unknown:
        raise ValidationError(f"unknown postmortem sections: {', '.join(sorted(unknown))}")
    sections = {k: clean(v, f"the {k} section", MAX_SECTION, required=False) for k, v in c.sections.items()}
    items = normalize_items(c.action_items)
    moments = _moments(s, c.key_moments)
    return [ev.PostmortemDrafted(**envelope(s, c), sections=sections, markdown=c.markdown[:MAX_SECTION * 12],
                                 title=clean(c.title, "the postmortem title", 200), action_items=tuple(items),
                                 key_moments=moments, source=c.source, notes=c.notes[:2000])]


def _moments(s: IncidentState, versions: tuple[int, ...]) -> tuple[int, ...]:
    chosen = tuple(sorted({int(v) for v in versions}))
    if len(chosen) > MAX_KEY_MOMENTS:
        raise ValidationError(f"keep the key moments under {MAX_KEY_MOMENTS}")
    if chosen and (chosen[0] < 1 or chosen[-1] > s.version):
        raise ValidationError(f"key moments must be events of {s.human_id} (versions 1–{s.version})")
    return chosen


def _review(s: IncidentState, c: ReviewKeyMoments) -> list[ev.Event]:
    if not (c.org_commander or c.actor == s.commander):
        raise PermissionDenied(f"only {s.human_id}'s commander (or an org commander or admin) reviews its key "
                               "moments.")
    if status_of(s) in LOCKED:
        _require_editable(s)
    moments = _moments(s, c.key_moments)
    return [ev.PostmortemEdited(**envelope(s, c), section="key_moments", text=f"{len(moments)} key moments",
                                key_moments=moments)]


def _edit(s: IncidentState, c: EditPostmortemSection) -> list[ev.Event]:
    _require_editable(s)
    if c.section not in SECTION_TITLES:
        raise FieldError(f"section.{c.section}", f"there is no postmortem section {c.section!r}")
    text = storable(str(c.text or "").strip())
    if len(text) > MAX_SECTION:
        raise FieldError(f"section.{c.section}", f"{SECTION_TITLES[c.section]} is {len(text)} characters; "
                                                 f"keep it under {MAX_SECTION}")
    if text == s.postmortem.sections.get(c.section, ""):
        return []
    return [ev.PostmortemEdited(**envelope(s, c), section=c.section, text=text)]


def _edit_items(s: IncidentState, c: EditActionItems) -> list[ev.Event]:
    _require_editable(s)
    items = normalize_items(c.action_items)
    if items == normalize_items(s.postmortem.action_items):
        return []
    return [ev.PostmortemEdited(**envelope(s, c), section="action_items", text=f"{len(items)} action items",
                                action_items=tuple(items))]


def _save(s: IncidentState, c: SavePostmortemEdits) -> list[ev.Event]:
    _require_editable(s)
    base: dict[str, Any] = {"org_id": c.org_id, "incident_id": c.incident_id, "actor": c.actor,
                            "occurred_at": c.occurred_at, "meta": c.meta}
    out: list[ev.Event] = []
    current = s
    steps: list[Command] = [EditPostmortemSection(**base, section=k, text=v) for k, v in c.sections.items()]
    if c.action_items is not None:
        steps.append(EditActionItems(**base, action_items=tuple(c.action_items)))
    for step in steps:
        made = _edit(current, step) if isinstance(step, EditPostmortemSection) \
            else _edit_items(current, step)  # type: ignore[arg-type]
        out += made
        current = apply_all(current, made) or current
    return out


def _submit(s: IncidentState, c: SubmitPostmortem) -> list[ev.Event]:
    if _require_editable(s) is PostmortemStatus.SUBMITTED:
        raise InvalidTransition(f"{s.human_id}'s postmortem is already submitted and waits for a commander's "
                                "approval.")
    check_complete(s.postmortem, s.human_id)
    return [ev.PostmortemSubmitted(**envelope(s, c), warnings=max(0, c.warnings))]


def _approve(s: IncidentState, c: ApprovePostmortem) -> list[ev.Event]:
    if not c.org_commander:
        raise PermissionDenied(rt.doc(rt.para(
            rt.Mention(c.actor, short_actor(c.actor)), f" cannot approve {s.human_id}'s postmortem: approval needs an "
            "org commander or admin. Submit it for approval instead.")))
    status = _require_editable(s)
    if s.status is not Status.RESOLVED:
        raise InvalidTransition(f"{s.human_id} is {s.status.value}: resolve it first, because an approved "
                                "postmortem is published and closes the incident.")
    check_complete(s.postmortem, s.human_id)
    targets = tuple(dict.fromkeys(t.strip() for t in c.targets if t.strip()))
    if not targets:
        raise ValidationError("there is nowhere to publish the postmortem; configure publishing targets")
    out: list[ev.Event] = []
    if status is PostmortemStatus.DRAFT:
        out.append(ev.PostmortemSubmitted(**envelope(s, c), warnings=max(0, c.warnings)))
    out.append(ev.PostmortemApproved(**envelope(s, c, offset=len(out) + 1), approver=c.actor, targets=targets))
    return out


def _publication(s: IncidentState, c: RecordPublication) -> list[ev.Event]:
    status = status_of(s)
    if status not in LOCKED:
        raise InvalidTransition(f"{s.human_id}'s postmortem is not approved; nothing is published before approval.")
    targets = list(s.postmortem.targets)
    if c.target not in targets:
        raise ValidationError(f"{c.target!r} is not one of the targets approved for {s.human_id}: {targets}")
    published = dict(s.postmortem.published)
    if c.target in published:
        return []
    out: list[ev.Event] = [ev.PostmortemPublished(**envelope(s, c), target=c.target,
                                                  url=clean(c.url, "the published URL", 1000), ref=c.ref[:200])]
    published[c.target] = c.url
    if set(targets) <= set(published) and s.status is Status.RESOLVED:
        out.append(ev.StatusChanged(**envelope(s, c, offset=2), from_status=Status.RESOLVED,
                                    to_status=Status.CLOSED,
                                    note=f"postmortem published to {', '.join(targets)}"))
    return out


POSTMORTEM_DECIDERS: dict[type, Callable[[Any, Any], list[Any]]] = {
    DraftPostmortem: _draft,
    ReviewKeyMoments: _review,
    EditPostmortemSection: _edit,
    EditActionItems: _edit_items,
    SavePostmortemEdits: _save,
    SubmitPostmortem: _submit,
    ApprovePostmortem: _approve,
    RecordPublication: _publication,
}
