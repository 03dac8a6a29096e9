"""Typed parts of `IncidentState`: chat rooms, actions, suggestions, the postmortem and recurrence.

Each model round-trips through the JSON shape the projection has always stored (`to_dict`), and
`from_dict` reads every older shape: missing keys take their defaults and unknown keys are ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class ActionStatus(StrEnum):
    """Where one action stands (`IncidentState.actions[action_id].status`)."""

    REQUESTED = "requested"  # cleared to run (read-only/low, or medium confirmed with the request)
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_APPROVAL = "awaiting_approval"
    CONFIRMED = "confirmed"
    APPROVED = "approved"
    DENIED = "denied"
    EXECUTED = "executed"
    FAILED = "failed"
    UNDONE = "undone"
    UNDO_FAILED = "undo_failed"


class PostmortemStatus(StrEnum):
    """Where the postmortem stands (`IncidentState.postmortem.status`)."""

    REVIEWING = "reviewing"  # key moments reviewed, no draft yet
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PUBLISHING = "publishing"
    PUBLISHED = "published"


class PostmortemItem(TypedDict):
    """One postmortem action item, as `normalize_item` (incident_core/postmortem_model.py) validates it."""

    id: str
    title: str
    owner: str
    priority: str  # P1–P4; empty while a draft leaves it open
    due: str  # YYYY-MM-DD, or empty
    kind: str  # mitigate | prevent | detect | process
    cites: list[int]  # the timeline events (versions) it comes from


def postmortem_item(raw: Any, index: int = 0) -> PostmortemItem:
    """A stored item in today's shape (missing keys take the defaults normalize_item gives them)."""
    raw = raw if isinstance(raw, dict) else {}
    return PostmortemItem(id=str(raw.get("id") or f"ai-{index + 1}"), title=str(raw.get("title") or ""),
                          owner=str(raw.get("owner") or ""), priority=str(raw.get("priority") or ""),
                          due=str(raw.get("due") or ""), kind=str(raw.get("kind") or "prevent"),
                          cites=[int(c) for c in raw.get("cites") or () if str(c).isdigit()])


def known_fields(cls: type[DataclassInstance], data: dict[str, Any] | None) -> dict[str, Any]:
    """The keys of `data` that `cls` has as fields; the rest (from older or newer shapes) is dropped."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in (data or {}).items() if k in names}


@dataclass(frozen=True)
class Room:
    """The incident's room on one chat platform (a Slack channel, a Teams thread)."""

    room_id: str
    name: str = ""
    message_id: str | None = None  # the pinned war-room message, when there is one

    def to_dict(self) -> dict[str, Any]:
        return {"room_id": self.room_id, "name": self.name, "message_id": self.message_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Room:
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class LastOffer:
    """The incident's latest guidance offer: its batch, when it was made, and a digest of what it said besides its steps."""

    batch_id: str
    at: str  # ISO time of the offer
    digest: str = ""
    suggestion_ids: tuple[str, ...] = ()  # its steps in the order shown (PostgreSQL's jsonb keeps no key order)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "suggestion_ids": list(self.suggestion_ids)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> LastOffer | None:
        """None for the empty mapping older rows (and incidents never offered guidance) hold."""
        if not data or not data.get("batch_id"):
            return None
        d = known_fields(cls, data)
        d["suggestion_ids"] = tuple(str(i) for i in d.get("suggestion_ids") or ())
        return cls(**d)


@dataclass(frozen=True)
class ActionRecord:
    """One playbook action of the incident and how far it got."""

    action: str = ""
    status: ActionStatus = ActionStatus.REQUESTED
    risk: str = ""
    command: str | None = None
    summary: str = ""
    reason: str = ""
    source: str | None = None
    suggestion_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reversible: bool = False
    undo: str | None = None
    requested_by: str = ""
    requested_at: str | None = None
    confirmed_by: str | None = None
    approver: str | None = None
    denied_by: str | None = None
    deny_reason: str = ""
    output: str = ""
    executed_by: str | None = None
    executed_at: str | None = None
    undo_output: str = ""
    undone_by: str | None = None
    undone_at: str | None = None

    @property
    def name(self) -> str:
        """What people call it: the summary, else the catalog name."""
        return self.summary or self.action

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionRecord:
        d = known_fields(cls, data)
        d["status"] = ActionStatus(d.get("status") or ActionStatus.REQUESTED)
        d["params"] = dict(d.get("params") or {})
        return cls(**d)


@dataclass(frozen=True)
class SuggestionRecord:
    """One posted next step, with the votes it got (user → helpful)."""

    title: str = ""
    why: str = ""
    source: str = ""
    risk: str = ""
    risk_reason: str = ""
    command: str | None = None
    action: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reversible: bool = False
    undo: str | None = None
    confidence: float = 0.0
    batch_id: str = ""
    votes: dict[str, bool] = field(default_factory=dict)
    seq: int = 0  # its number on the incident (1, 2, …): which are the newest, whatever order a store keeps

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuggestionRecord:
        d = known_fields(cls, data)
        d["params"] = dict(d.get("params") or {})
        d["votes"] = {str(k): bool(v) for k, v in (d.get("votes") or {}).items()}
        return cls(**d)


@dataclass(frozen=True)
class PostmortemRecord:
    """The postmortem as it stands; `status` is None until key moments are reviewed or a draft is made."""

    status: PostmortemStatus | None = None
    title: str = ""
    sections: dict[str, str] = field(default_factory=dict)
    action_items: tuple[PostmortemItem, ...] = ()
    key_moments: tuple[int, ...] = ()
    source: str = "deterministic"
    notes: str = ""
    drafted_at: str | None = None
    drafted_by: str | None = None
    reviewed_by: str | None = None
    submitted_by: str | None = None
    approver: str | None = None
    approved_at: str | None = None
    targets: tuple[str, ...] = ()
    published: dict[str, str] = field(default_factory=dict)  # target → URL
    last_activity_at: str | None = None

    @property
    def started(self) -> bool:
        """Key moments were reviewed or a draft exists."""
        return self.status is not None

    def to_dict(self) -> dict[str, Any]:
        """The stored shape; an untouched postmortem stays `{}` as it always was."""
        if not self.started:
            return {}
        out = dataclasses.asdict(self)
        out["status"] = self.status.value if self.status else None
        out["action_items"] = [dict(i) for i in self.action_items]
        out["key_moments"] = list(self.key_moments)
        out["targets"] = list(self.targets)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PostmortemRecord:
        d = known_fields(cls, data)
        d["status"] = PostmortemStatus(d["status"]) if d.get("status") else None
        d["sections"] = {str(k): str(v) for k, v in (d.get("sections") or {}).items()}
        d["action_items"] = tuple(postmortem_item(i, n) for n, i in enumerate(d.get("action_items") or ()))
        d["key_moments"] = tuple(int(m) for m in d.get("key_moments") or ())
        d["targets"] = tuple(str(t) for t in d.get("targets") or ())
        d["published"] = {str(k): str(v) for k, v in (d.get("published") or {}).items()}
        return cls(**d)


@dataclass(frozen=True)
class PriorPostmortem:
    """An earlier incident's published postmortem, by human id and path."""

    incident: str
    path: str = ""


@dataclass(frozen=True)
class Recurrence:
    """The recurring pattern this incident matches (incident_core/recurrence.py)."""

    key: str
    label: str = ""
    window_days: int = 0
    prior: tuple[str, ...] = ()  # human ids of the earlier incidents, oldest first
    postmortems: tuple[PriorPostmortem, ...] = ()
    items_open: int = 0
    items_done: int = 0
    items_unknown: int = 0
    signature: str = ""
    noted_at: str | None = None
    withdrawn: tuple[str, ...] = ()  # a withdrawn match: the earlier incidents it named (prior is then empty)
    withdrawn_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["prior"] = list(self.prior)
        out["withdrawn"] = list(self.withdrawn)
        out["postmortems"] = [dataclasses.asdict(p) for p in self.postmortems]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Recurrence | None:
        """None for the empty mapping older rows hold when nothing recurred."""
        if not data or not data.get("key"):
            return None
        d = known_fields(cls, data)
        d["prior"] = tuple(str(p) for p in d.get("prior") or ())
        d["withdrawn"] = tuple(str(p) for p in d.get("withdrawn") or ())
        d["postmortems"] = tuple(PriorPostmortem(**known_fields(PriorPostmortem, p))
                                 for p in d.get("postmortems") or () if p.get("incident"))
        return cls(**d)
