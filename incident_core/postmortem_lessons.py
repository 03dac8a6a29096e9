"""Judgements the draft makes against targets (went well / wrong / lucky) and the action items it proposes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incident_core import events as ev
from incident_core.model import Severity, Status
from incident_core.postmortem_check import cite, prompt
from incident_core.postmortem_facts import Facts, clip, quote, since
from incident_core.postmortem_model import add_business_days
from incident_core.state_models import PostmortemItem

FOLLOW_UP = re.compile(r"^\s*(?:action|todo|follow[- ]?up|ai)\s*[:\-]\s*(?P<title>.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class DraftPolicy:
    """Targets and defaults the draft judges against (overridable per org under `postmortem:`)."""

    mitigate_minutes: dict[str, int] = field(default_factory=lambda: {"SEV1": 30, "SEV2": 60, "SEV3": 240,
                                                                      "SEV4": 1440})
    declare_minutes: int = 15
    due_business_days: dict[str, int] = field(default_factory=lambda: {"P1": 5, "P2": 10, "P3": 20, "P4": 40})

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> DraftPolicy:
        """Read the org's `postmortem:` settings, keeping defaults for what is not given."""
        raw = dict(settings or {})
        base = cls()
        return cls(mitigate_minutes={**base.mitigate_minutes, **dict(raw.get("mitigate_minutes") or {})},
                   declare_minutes=int(raw.get("declare_minutes", base.declare_minutes)),
                   due_business_days={**base.due_business_days, **dict(raw.get("due_business_days") or {})})


def lessons(f: Facts, policy: DraftPolicy) -> tuple[list[str], list[str], list[str]]:
    d, first = f.declared, f.first_signal()
    well: list[str] = []
    wrong: list[str] = []
    lucky: list[str] = []
    if first is not None:
        gap = (d.occurred_at - f.signal_time(first)).total_seconds() / 60
        target = policy.declare_minutes
        (well if gap <= target else wrong).append(
            f"- The first signal led to a declared incident in {since(f.signal_time(first), d.occurred_at)} "
            f"(target {target}m) {cite(first.version, d.version)}")
    else:
        wrong.append(f"- No monitoring signal detected the problem; it was reported by hand {cite(d.version)}")
    mitigated = f.reached(Status.MITIGATED) or f.reached(Status.RESOLVED)
    if mitigated:
        minutes = (mitigated.occurred_at - d.occurred_at).total_seconds() / 60
        target_m = int(policy.mitigate_minutes.get(f.state.severity.value, 240))
        (well if minutes <= target_m else wrong).append(
            f"- Mitigated {since(d.occurred_at, mitigated.occurred_at)} after declaration (target for "
            f"{f.state.severity.value}: {target_m}m) {cite(d.version, mitigated.version)}")
    if f.commander() is None:
        wrong.append(f"- Nobody held the commander role {cite(d.version)}")
    for a in f.actions:
        if isinstance(a, ev.ActionExecuted) and a.succeeded:
            well.append(f"- “{clip(a.summary or a.action_id, 120)}” succeeded {cite(a.version)}")
        elif isinstance(a, ev.ActionExecuted | ev.ActionUndone) and not a.succeeded:
            wrong.append(f"- “{clip(a.summary or a.action_id, 120)}” did not succeed {cite(a.version)}")
    for h in f.helpful[:3]:
        well.append(f"- A suggested next step was marked helpful {cite(h.version)}")
    for x in f.severities:
        if Severity(x.to_severity).rank < Severity(x.from_severity).rank:
            wrong.append(f"- Severity was raised {x.from_severity.value} → {x.to_severity.value}: the impact was "
                         f"larger than first assessed {cite(x.version)}")
        else:
            lucky.append(f"- Severity was lowered {x.from_severity.value} → {x.to_severity.value}: the impact was "
                         f"smaller than first feared {cite(x.version)}")
    for e in f.reopened():
        wrong.append(f"- The problem came back after {e.from_status.value} {cite(e.version)}")
    cutoff = mitigated.occurred_at if mitigated else None
    for r in f.signals_resolved:
        if cutoff is not None and r.occurred_at < cutoff:
            lucky.append(f"- {quote(r.title, 120)} resolved before mitigation {cite(r.version)}")
    well.append(prompt("Add what else helped."))
    wrong.append(prompt("Add what else made the response harder."))
    lucky = lucky or [prompt("Nothing recorded: where could this have been worse?")]
    return well, wrong, lucky


def action_items(f: Facts, policy: DraftPolicy, now: datetime) -> list[PostmortemItem]:
    resolved = f.reached(Status.RESOLVED, last=True)
    base = (resolved.occurred_at if resolved else now).date()
    commander = f.commander()
    owner = commander[0] if commander else (f.declared.actor if ":" in f.declared.actor
                                            and not f.declared.actor.startswith("signal:") else "")
    priority = {Severity.SEV1: "P1", Severity.SEV2: "P2"}.get(f.state.severity, "P3")
    items: list[PostmortemItem] = []

    def add(title: str, kind: str, cites: list[int], who: str = owner) -> None:
        if title.lower() not in {i["title"].lower() for i in items} and len(items) < 10:
            due = add_business_days(base, int(policy.due_business_days.get(priority, 20)))
            items.append(PostmortemItem(id=f"ai-{len(items) + 1}", title=clip(title, 280), owner=who,
                                        priority=priority, due=due.isoformat(), kind=kind, cites=sorted(cites)))

    for n in f.notes:
        m = FOLLOW_UP.match(n.text)
        if m:
            add(m.group("title").strip(), "prevent", [n.version], n.actor)
    services = ", ".join(sorted({str(e.signal["service"]) for e in f.signals if e.signal.get("service")}))
    first = f.first_signal()
    if first is None:
        add(f"Add alerting that detects this failure of {f.state.title[:80]} automatically", "detect",
            [f.declared.version])
    elif (f.declared.occurred_at - f.signal_time(first)).total_seconds() / 60 > policy.declare_minutes:
        add(f"Page or auto-declare sooner on “{clip(str(first.signal.get('title')), 80)}”", "detect",
            [first.version, f.declared.version])
    for a in f.actions:
        if isinstance(a, ev.ActionExecuted) and not a.succeeded:
            add(f"Fix the “{clip(a.summary or a.action_id, 80)}” runbook step: it failed during {f.state.human_id}",
                "mitigate", [a.version])
    for a in [a for a in f.actions if isinstance(a, ev.ActionExecuted) and a.succeeded][:2]:
        add(f"Document “{clip(a.summary or a.action_id, 80)}” as a tested runbook step"
            + (f" for {services}" if services else ""), "process", [a.version])
    return items
