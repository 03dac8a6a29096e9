"""Guidance: cited next steps, diagnostic questions and "seen before" — the types every adapter shares.

The retrieval-backed `GuidanceSource` lives in knowledge/; this module is the platform-neutral
contract (standard library only) plus the pure rules for when guidance is due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from incident_core import richtext as rt
from incident_core.events import Event
from incident_core.state import IncidentState

RISK_BADGE = {"read-only": "🟢", "low": "🔵", "medium": "🟠", "high": "🔴"}
WHOLE_INCIDENT = "incident"  # the cover every offer includes, so an incident without signals gets one offer
TRIGGERS = ("room_opened", "new_signal", "command")
_KIND_PREFIXES = ("alertname+service=", "alertname=", "service=")


@dataclass(frozen=True)
class Suggestion:
    """One next step: what, why, the verbatim command (if any), its citation and its policy risk.

    `title` is the policy's own description of the step (never text from a runbook or a model);
    what the runbook or the model wrote about it is `quote`, shown as quoted source text.
    """

    title: str
    why: str
    source: str  # path#section of the retrieved runbook section it comes from
    risk: str  # a RiskLevel value, from incident_core.risk (a model may only raise it)
    risk_reason: str
    command: str | None = None  # verbatim from the source's commands, never composed
    action: str | None = None  # an ActionKind value when the step can run (simulated) from chat
    params: dict[str, Any] = field(default_factory=dict)
    reversible: bool = False
    undo: str | None = None
    confidence: float = 0.0
    suggestion_id: str = ""
    source_url: str = ""  # the cited file at the commit it was synced from (runbook sources), else empty
    quote: str = ""  # the runbook's (or model's) own words for this step, untrusted
    quote_by: str = "runbook"  # "runbook" or "model"

    @property
    def runnable(self) -> bool:
        """True when a button can request it as a playbook action."""
        return self.action is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Suggestion:
        """Inverse of to_dict (unknown keys ignored)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass(frozen=True)
class Question:
    """A diagnostic question to answer, with the runbook section it comes from."""

    text: str
    source: str


@dataclass(frozen=True)
class SeenBefore:
    """A similar past incident or postmortem of the same org and what resolved it."""

    title: str
    source: str
    kind: str  # "incident" or "postmortem"
    why: str  # same alert / same service / similar text
    resolution: str
    score: float = 0.0


@dataclass(frozen=True)
class Guidance:
    """What the bot offers for one incident; `nothing_found` means it says so instead of guessing."""

    suggestions: tuple[Suggestion, ...] = ()
    questions: tuple[Question, ...] = ()
    seen_before: tuple[SeenBefore, ...] = ()
    nothing_found: bool = False
    message: str = ""
    query: str = ""
    engine: str = "retrieval"
    retrieved: int = 0  # sections the search returned (0: the org has no knowledge to draw on)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the outbox payload chat adapters render)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Guidance:
        """Inverse of to_dict."""
        return cls(
            suggestions=tuple(Suggestion.from_dict(s) for s in data.get("suggestions", ())),
            questions=tuple(Question(**q) for q in data.get("questions", ())),
            seen_before=tuple(SeenBefore(**b) for b in data.get("seen_before", ())),
            nothing_found=bool(data.get("nothing_found", False)), message=str(data.get("message", "")),
            query=str(data.get("query", "")), engine=str(data.get("engine", "retrieval")),
            retrieved=int(data.get("retrieved", 0)),
        )


@dataclass(frozen=True)
class GuidanceRequest:
    """Everything a guidance source may read: the incident, its timeline and the org's feedback."""

    org_id: str
    state: IncidentState
    events: Sequence[Event] = ()
    trigger: str = "command"
    feedback: Mapping[str, int] = field(default_factory=dict)  # source (path#section) → net 👍 minus 👎
    project: str | None = None  # the project's name, as documents were ingested with --project
    prefer: tuple[str, ...] = ()  # documents ranked first in "seen before": the recurring pattern's postmortems


class GuidanceSource(Protocol):
    """Produces guidance for an incident; implementations must only cite what they retrieved."""

    def guide(self, request: GuidanceRequest) -> Guidance: ...

    def has_knowledge(self, org_id: str) -> bool:
        """Whether guide() could retrieve anything for the org at all (cheap: no query is built, nothing searched)."""
        ...


class FeedbackStats(Protocol):
    """The org's suggestion feedback: net votes per cited source (last vote per person and suggestion)."""

    def net_votes(self, org_id: str) -> dict[str, int]: ...


def signal_kinds(state: IncidentState) -> tuple[str, ...]:
    """The kinds of signal seen (alert name and/or service), from the incident's correlation keys."""
    return tuple(sorted(k for k in state.correlation_keys if k.startswith(_KIND_PREFIXES)))


def covers(state: IncidentState) -> tuple[str, ...]:
    """What an offer made now covers: the whole incident plus every signal kind seen so far."""
    return (WHOLE_INCIDENT, *signal_kinds(state))


def guidance_due(state: IncidentState) -> str | None:
    """"room_opened" or "new_signal" when an open incident with a chat room needs an offer; else None."""
    if not state.rooms or not state.status.is_open:
        return None
    if WHOLE_INCIDENT not in state.guidance_keys:
        return "room_opened"
    if set(signal_kinds(state)) - set(state.guidance_keys):
        return "new_signal"
    return None


def action_id_for(suggestion_id: str) -> str:
    """The playbook action id a suggestion's Run button requests (so a double click runs once)."""
    return f"sg-{suggestion_id}"


def render_lines(guidance: Guidance) -> list[str]:
    """Plain-text lines (badge, title, command, citation) for the CLI and the demo."""
    return guidance_text(guidance).plain().splitlines()


def guidance_text(guidance: Guidance) -> rt.Rich:
    """The guidance as one reply (badge, title, command in code, citation) for chats without the thread."""
    if guidance.nothing_found:
        return rt.doc(guidance.message)
    rows: list[tuple[rt.Inline, ...]] = []
    for i, s in enumerate(guidance.suggestions, start=1):
        command = (" — ", rt.code(s.command)) if s.command else ()
        rows.append(rt.inline(f"{RISK_BADGE.get(s.risk, '⚪')} {s.risk:<9} {i}. {s.title}", command))
        if s.quote:
            rows.append(rt.inline(f"{'':13}", quoted(s)))
        rows.append(rt.inline(f"{'':13}source {s.source} · confidence {s.confidence:.2f}"
                              + (" · Run (simulated)" if s.runnable else "")))
    rows += [rt.inline(f"❓ {q.text} ({q.source})") for q in guidance.questions]
    rows += [rt.inline(f"🕘 seen before: {b.title} ({b.source}) — {b.why}; resolved by: {b.resolution}")
             for b in guidance.seen_before]
    return rt.doc(rt.lines(*rows))


def cited_at(s: Suggestion) -> tuple[rt.Inline, ...]:
    """A link to the cited file at the commit it was synced from, when the source has a safe http(s) URL."""
    link = rt.link(s.source_url)
    return rt.inline(" ", link) if link else ()


def quoted(s: Suggestion) -> tuple[rt.Inline, ...]:
    """The runbook's or model's own words for a step, as quoted source text under the policy's title (never as it)."""
    if not s.quote:
        return ()
    by = "model" if s.quote_by == "model" else "runbook"
    return rt.inline(rt.em(f"the {by} says:"), f" “{rt.one_line(s.quote, 400)}”")
