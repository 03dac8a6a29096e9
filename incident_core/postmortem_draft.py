"""The offline, deterministic postmortem draft: complete on its own, every factual line cites its events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incident_core import events as ev
from incident_core.model import Status
from incident_core.postmortem_check import cite, code, is_guidance, prompt
from incident_core.postmortem_facts import Facts, clip, gather, quote, since
from incident_core.postmortem_lessons import FOLLOW_UP, DraftPolicy, action_items, lessons
from incident_core.richtext_safety import safe_url
from incident_core.state import IncidentState
from incident_core.state_models import PostmortemItem
from incident_core.timeline import short_actor

MAX_MOMENTS = 40


@dataclass(frozen=True)
class Draft:
    """Sections (key → text with citations), action item rows and the key moments (event versions) used."""

    title: str
    sections: dict[str, str]
    action_items: tuple[PostmortemItem, ...]
    key_moments: tuple[int, ...]
    source: str = "deterministic"
    notes: str = ""


def _t(f: Facts, at: datetime) -> str:
    day = f.declared.occurred_at.date()
    return f"{at:%H:%M} UTC" if at.date() == day else f"{at:%b %d %H:%M} UTC"


def _summary(f: Facts) -> list[str]:
    s, d = f.state, f.declared
    services = sorted({str(e.signal["service"]) for e in f.signals if e.signal.get("service")})
    svc_versions = [e.version for e in f.signals if e.signal.get("service")]
    affecting = f"affecting {', '.join(services)}" if services else "with no service named by its signals"
    sev_v = [d.version] + [x.version for x in f.severities]
    lines = [f"{s.human_id} “{clip(s.title, 150)}” was a {s.severity.value} incident {affecting}. "
             f"{cite(sev_v, svc_versions[:5])}"]
    resolved = f.reached(Status.RESOLVED, last=True)
    if resolved:
        lines.append(f"It was declared at {_t(f, d.occurred_at)} and resolved at {_t(f, resolved.occurred_at)}, "
                     f"{since(d.occurred_at, resolved.occurred_at)} later. {cite(d.version, resolved.version)}")
    else:
        lines.append(f"It was declared at {_t(f, d.occurred_at)} and is not resolved yet. {cite(d.version)}")
    if d.summary.strip():
        lines.append(f"First report: {quote(d.summary)} {cite(d.version)}")
    identified = f.reached(Status.IDENTIFIED)
    if identified and identified.note:
        lines.append(f"Cause as identified during the response: {quote(identified.note)} {cite(identified.version)}")
    return lines


def _impact(f: Facts) -> list[str]:
    s, d = f.state, f.declared
    sev = f"- Severity: {s.severity.value}"
    if f.severities:
        changes = "; ".join(f"{x.from_severity.value} → {x.to_severity.value} at {_t(f, x.occurred_at)}"
                            for x in f.severities)
        sev += f" (declared {d.severity.value}; {changes})"
    lines = [f"{sev} {cite(d.version, [x.version for x in f.severities])}"]
    resolved = f.reached(Status.RESOLVED, last=True)
    if resolved:
        lines.append(f"- Duration: {since(d.occurred_at, resolved.occurred_at)} from declaration to resolution "
                     f"{cite(d.version, resolved.version)}")
    if f.signals:
        first, last = f.signals[0], f.signals[-1]
        sources = ", ".join(sorted({str(e.signal.get("source")) for e in f.signals}))
        lines.append(f"- Signals: {len(f.signals)} from {sources}"
                     f", first at {_t(f, f.signal_time(first))}, last at {_t(f, last.occurred_at)} "
                     f"{cite(first.version, last.version)}")
        services = sorted({str(e.signal["service"]) for e in f.signals if e.signal.get("service")})
        if services:
            lines.append(f"- Affected services: {', '.join(services)} "
                         f"{cite([e.version for e in f.signals if e.signal.get('service')][:8])}")
    else:
        lines.append(f"- No monitoring signal was attached to {s.human_id} {cite(d.version)}")
    return lines


def _detection(f: Facts) -> list[str]:
    d, first = f.declared, f.first_signal()
    how = "automatically from a signal" if d.source.startswith("signal") else f"from {d.source}"
    declared = f"- Declared at {_t(f, d.occurred_at)} {how} by {short_actor(d.actor)} {cite(d.version)}"
    if first is None:
        return [declared, f"- Detection was manual: no alert or log signal reached {f.state.human_id} "
                          f"{cite(d.version)}"]
    sig = first.signal
    lines = [f"- First signal at {_t(f, f.signal_time(first))}: [{sig.get('severity')}] "
             f"{quote(str(sig.get('title')), 150)} from {sig.get('source')} {cite(first.version)}", declared]
    gap = (d.occurred_at - f.signal_time(first)).total_seconds()
    if gap > 0:
        lines.append(f"- Time from first signal to declaration: {since(f.signal_time(first), d.occurred_at)} "
                     f"{cite(first.version, d.version)}")
    return lines


def _response(f: Facts) -> list[str]:
    d, lines = f.declared, []
    commander = f.commander()
    if commander:
        lines.append(f"- Commander: {short_actor(commander[0])} {cite(commander[1])}")
    others = [r for r in f.roles if r.role.value != "commander"]
    if others:
        lines.append("- Other roles: " + ", ".join(f"{r.role.value} {short_actor(r.assignee)}" for r in others)
                     + f" {cite([r.version for r in others])}")
    for status, label in ((Status.INVESTIGATING, "Investigating"), (Status.IDENTIFIED, "Identified"),
                          (Status.MITIGATED, "Mitigated (time to mitigate)"),
                          (Status.RESOLVED, "Resolved (time to resolve)")):
        hit = f.reached(status, last=status is Status.RESOLVED)
        if hit and hit.occurred_at >= d.occurred_at:
            note = f": {quote(hit.note, 160)}" if hit.note else ""
            lines.append(f"- {label} at {_t(f, hit.occurred_at)}, {since(d.occurred_at, hit.occurred_at)} after "
                         f"declaration{note} {cite(d.version, hit.version)}")
    for e in f.reopened():
        lines.append(f"- Reopened: {e.from_status.value} → {e.to_status.value} at {_t(f, e.occurred_at)} "
                     f"{cite(e.version)}")
    for a in f.actions:
        entry = f.state.actions.get(getattr(a, "action_id", ""))
        command = entry.command if entry and entry.action == "runbook_command" else None
        lines.append(f"- Action: {short_actor(a.actor)} {_action_text(a, command)} {cite(a.version)}")
    if f.suggestions:
        helpful = f"; {len(f.helpful)} marked helpful" if f.helpful else ""
        lines.append(f"- Suggestions posted from runbooks and past incidents: {len(f.suggestions)}{helpful} "
                     f"{cite([x.version for x in f.suggestions][:10], [h.version for h in f.helpful][:5])}")
    return lines


def _action_text(a: ev.Event, command: str | None = None) -> str:
    if isinstance(a, ev.ActionExecuted):
        verb = "executed" if a.succeeded else "tried (and failed) to execute"
        what = f"run {code(clip(command, 160))}" if command else clip(a.summary or a.action_id, 160)
        return f"{verb} “{what}” [{a.risk}]"
    if isinstance(a, ev.ActionUndone):
        return f"{'undid' if a.succeeded else 'failed to undo'} {a.summary or a.action_id}"
    assert isinstance(a, ev.ActionDenied)
    return clip(f"denied {a.summary or a.action_id} [{a.risk}]" + (f": {clip(a.reason, 80)}" if a.reason else ""), 180)


def _timeline(f: Facts, moments: tuple[int, ...] | None) -> tuple[list[str], tuple[int, ...]]:
    if moments is None:
        chosen = f.moment_candidates()[-MAX_MOMENTS:]
    else:
        chosen = [f.by_version[v] for v in moments if v in f.by_version]
    lines = []
    for e in chosen:
        text, versions = f.moment_line(e)
        lines.append(f"- {_t(f, e.occurred_at)} — {text} {cite(versions)}")
    return lines or [prompt("No key moments chosen; pin messages with 📌 or review the key moments.")], \
        tuple(e.version for e in chosen)


def _factors(f: Facts) -> list[str]:
    lines = []
    identified = f.reached(Status.IDENTIFIED)
    if identified and identified.note:
        lines.append(f"- Recorded when the cause was identified: {quote(identified.note)} {cite(identified.version)}")
    for n in f.notes[:8]:
        if not FOLLOW_UP.match(n.text):
            lines.append(f"- Note by {short_actor(n.actor)}: {quote(n.text)} {cite(n.version)}")
    logs = [e for e in f.signals if e.signal.get("kind") == "log"]
    if logs:
        lines.append(f"- Log lines attached: {len(logs)}, e.g. {quote(str(logs[0].signal.get('title')), 150)} "
                     f"{cite([e.version for e in logs][:5])}")
    titles: dict[str, list[int]] = {}
    for e in f.signals:
        titles.setdefault(str(e.signal.get("title")), []).append(e.version)
    for title, versions in list(titles.items())[:5]:
        lines.append(f"- Alert: {quote(title, 150)} ({len(versions)}×) {cite(versions[:5])}")
    lines.append(prompt("Reviewers: state each factor as a condition of the system (code, config, capacity, "
                        "process), not as someone's action."))
    return lines


def _links(f: Facts) -> list[str]:
    lines = [f"- Incident room: #{r.room_name} ({r.platform}) {cite(r.version)}" for r in f.rooms]
    seen: set[str] = set()
    for e in f.signals:
        for link in e.signal.get("links") or ():
            url = safe_url(link.get("url")) or ""
            if url and url not in seen and len(seen) < 10:
                seen.add(url)
                lines.append(f"- {clip(str(link.get('title') or 'signal'), 80)}: {url} {cite(e.version)}")
    for a in f.actions:
        entry = f.state.actions.get(getattr(a, "action_id", ""))
        source = entry.source if entry else None
        if source and source not in seen:
            seen.add(source)
            lines.append(f"- Runbook used: {clip(source, 150)} {cite(a.version)}")
    return lines or [prompt("No links recorded.")]


def _join(lines: list[str]) -> str:
    """Lines of a section; a guidance line after a list gets a blank line so Markdown keeps it apart."""
    out: list[str] = []
    for line in lines:
        if out and is_guidance(line) and not is_guidance(out[-1]):
            out.append("")
        out.append(line)
    return "\n".join(out)


def build_draft(state: IncidentState, events: list[ev.Event], *, now: datetime,
                key_moments: tuple[int, ...] | None = None, policy: DraftPolicy | None = None) -> Draft:
    """The complete deterministic draft of one incident's postmortem from its state and timeline."""
    policy = policy or DraftPolicy()
    f = gather(state, events)
    timeline, chosen = _timeline(f, key_moments)
    well, wrong, lucky = lessons(f, policy)
    sections = {"summary": _summary(f), "impact": _impact(f), "detection": _detection(f),
                "response": _response(f) or [f"- Declared by {short_actor(f.declared.actor)} {cite(1)}"],
                "timeline": timeline, "contributing_factors": _factors(f), "went_well": well,
                "went_wrong": wrong, "lucky": lucky, "links": _links(f)}
    return Draft(title=f"{state.human_id} — {clip(state.title, 150)}",
                 sections={k: _join(v) for k, v in sections.items()},
                 action_items=tuple(action_items(f, policy, now)), key_moments=chosen)
