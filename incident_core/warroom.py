"""The war-room view: what every chat platform shows about an incident, built from its state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from incident_core import richtext as rt
from incident_core.aggregate import LIFECYCLE
from incident_core.all_clear import line as all_clear_line
from incident_core.model import Severity, Status
from incident_core.recurrence_text import line as recurrence_line
from incident_core.state import IncidentState
from incident_core.state_models import ActionRecord

SPARK = "▁▂▃▄▅▆▇█"
STATUS_EMOJI = {Status.TRIGGERED: "🔴", Status.INVESTIGATING: "🟠", Status.IDENTIFIED: "🟡",
                Status.MITIGATED: "🔵", Status.RESOLVED: "🟢", Status.CLOSED: "⚪"}


@dataclass(frozen=True)
class WarRoom:
    """Platform-neutral content of the pinned war-room message."""

    incident_id: str
    human_id: str
    title: str
    status: Status
    severity: Severity
    roles: dict[str, str]
    duration: str
    trend: str | None
    highlights: list[tuple[str, int]]
    signals: list[str]
    actions: list[tuple[rt.Inline, ...]]
    next_statuses: list[Status]
    severities: list[Severity]
    recurrence: str | None = None  # "4th time in 30 days: INC-3, INC-7, INC-9 · postmortem of INC-7 · …"
    all_clear: str | None = None  # "All clear since 10:02 UTC: all 2 signals that fired have resolved. …"

    @property
    def headline(self) -> str:
        return f"{STATUS_EMOJI[self.status]} {self.human_id} · {self.severity.value} · {self.status.value} — {self.title}"


def sparkline(values: list[float]) -> str:
    """Eight-level unicode sparkline."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARK[min(7, int((v - low) / span * 7.999))] for v in values)


def humanize(seconds: float) -> str:
    """`2h 05m`, `14m`, `40s`."""
    seconds = max(0, int(seconds))
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def duration(state: IncidentState, now: datetime) -> str:
    """Open for …, or how long it took to resolve."""
    end = state.status_times.get(Status.RESOLVED.value)
    if end and not state.status.is_open:
        return f"resolved after {humanize((datetime.fromisoformat(end) - state.created_at).total_seconds())}"
    return f"open for {humanize((now - state.created_at).total_seconds())}"


def trend(state: IncidentState) -> str | None:
    """`p99_latency_seconds ▁▃▇█ 2.4 → 3.1` for the most frequent metric."""
    if not state.metric_points:
        return None
    names: dict[str, list[float]] = {}
    for _, name, value in state.metric_points:
        names.setdefault(name, []).append(value)
    name, values = max(names.items(), key=lambda kv: len(kv[1]))
    return f"{name} {sparkline(values[-24:])} {values[0]:g} → {values[-1]:g}"


def next_statuses(status: Status) -> list[Status]:
    """The status buttons worth offering from here."""
    if status in (Status.RESOLVED, Status.CLOSED):
        return [Status.INVESTIGATING] if status is Status.RESOLVED else []
    later = LIFECYCLE[LIFECYCLE.index(status) + 1:]
    return [s for s in later if s is not Status.TRIGGERED]


RISK_EMOJI = {"read-only": "🟢", "low": "🔵", "medium": "🟠", "high": "🔴"}
PENDING = ("requested", "confirmed", "approved", "awaiting_confirmation", "awaiting_approval")


def _short(user: object) -> str:
    return str(user or "?").split(":")[-1]


def _person(user: object) -> rt.Inline:
    """A person on an action: a mention when there is a platform id, the bare name otherwise."""
    raw = str(user or "")
    return rt.Mention(raw, _short(raw)) if ":" in raw else rt.Text(raw or "?")


def action_status(action: ActionRecord) -> tuple[rt.Inline, ...]:
    """The status of one action as a person says it ("awaiting a commander's approval", "denied by dave")."""
    status = action.status
    fixed = {"requested": "running", "awaiting_approval": "awaiting a commander's approval",
             "confirmed": "confirmed, running", "approved": "approved, running", "executed": "done",
             "failed": "failed", "undo_failed": "undo failed"}
    if status in fixed:
        return rt.inline(fixed[status])
    if status == "awaiting_confirmation":
        return rt.inline("awaiting ", _person(action.requested_by), "'s confirmation")
    if status == "denied":
        reason = f" ({action.deny_reason})" if action.deny_reason else ""
        return rt.inline("denied by ", _person(action.denied_by), reason)
    if status == "undone":
        return rt.inline("undone by ", _person(action.undone_by))
    return rt.inline(status.replace("_", " "))


def action_name(action: ActionRecord) -> tuple[rt.Inline, ...]:
    """The action's own summary ("restart deployment checkout in shop"), a runbook command in code."""
    summary = action.name or "action"
    command = action.command
    if action.action == "runbook_command" and command:
        return rt.inline("run ", rt.code(rt.clip(str(command), 80)))
    return rt.inline(summary)


def action_line(action: ActionRecord) -> tuple[rt.Inline, ...]:
    """`🔴 roll back deployment checkout [high] — approved, running (by bob, approved by alice)`."""
    risk = action.risk
    approver = (", approved by ", _person(action.approver)) if action.approver else ()
    return rt.inline(f"{RISK_EMOJI.get(risk, '⚪')} ", action_name(action), f" [{risk}] — ", action_status(action),
                     " (by ", _person(action.requested_by), approver, ")")


def build(state: IncidentState, now: datetime) -> WarRoom:
    """Everything the war-room message shows."""
    highlights = sorted(state.log_lines.items(), key=lambda kv: -kv[1])[:5]
    signals = [f"[{s.get('severity')}] {s.get('title')} ({s.get('source')}, "
               f"{'update' if s.get('kind') == 'change' else s.get('status')})"
               for s in reversed(state.recent_signals[-5:])]
    return WarRoom(
        incident_id=state.incident_id, human_id=state.human_id, title=state.title, status=state.status,
        severity=state.severity, roles=dict(state.roles), duration=duration(state, now), trend=trend(state),
        highlights=highlights, signals=signals,
        actions=[action_line(a) for a in list(state.actions.values())[-5:]],
        next_statuses=next_statuses(state.status),
        severities=[s for s in Severity if s is not state.severity],
        recurrence=recurrence_line(state.recurrence) or None, all_clear=all_clear_line(state),
    )


def catchup(state: IncidentState, notes: list[str], now: datetime) -> rt.Rich:
    """A short summary for someone joining late."""
    roles = rt.join([(f"{r}: ", _person(who)) for r, who in state.roles.items()]) or rt.inline("no roles assigned yet")
    rows: list[tuple[rt.Inline, ...]] = [
        rt.inline(rt.b(f"{state.human_id} — {state.title}")),
        rt.inline(f"{state.severity.value}, {state.status.value}, {duration(state, now)}. ", roles, "."),
        rt.inline(f"{state.signal_count} signal(s) from {', '.join(state.services) or 'no named service'}.")]
    if state.log_lines:
        top, count = max(state.log_lines.items(), key=lambda kv: kv[1])
        rows.append(rt.inline(f"Most frequent error: “{top}” ({count}×)."))
    if notes:
        rows.append(rt.inline("Latest notes: " + " · ".join(notes[-3:])))
    done = [a for a in state.actions.values() if a.status == "executed"]
    if done:
        rows.append(rt.inline("Actions taken: ", rt.join([action_name(a) for a in done], "; ")))
    return rt.doc(rt.lines(*rows))


def status_update(state: IncidentState, notes: list[str], now: datetime) -> rt.Rich:
    """A draft update in Conditions / Actions / Needs form for the commander to post."""
    services = ", ".join(state.services) or "the affected service"
    done = [action_name(a) for a in state.actions.values() if a.status == "executed"]
    pending = [(*action_name(a), rt.Text(" ("), *action_status(a), rt.Text(")")) for a in state.actions.values()
               if a.status in PENDING]
    actions = [*done, *pending, *(rt.inline(n) for n in notes[-2:])]
    needs = rt.inline("Nothing right now.") if state.commander else \
        rt.inline("An incident commander: ", rt.cmd("role commander @someone"), ".")
    return rt.doc(rt.lines(
        (rt.b(f"Status update — {state.human_id} {state.title}"), f" ({state.severity.value}, {state.status.value})"),
        (rt.b("Conditions:"), f" {services} affected; {duration(state, now)}; {state.signal_count} signal(s)."),
        (rt.b("Actions:"), " ", rt.join(actions, "; ") if actions else "Investigating; no changes made yet."),
        (rt.b("Needs:"), " ", needs),
    ))
