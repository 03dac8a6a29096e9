"""All clear: when every firing signal of an incident has resolved, or its PagerDuty incident resolved.

The decider adds `AllClearReached` to the `SignalResolved` that empties the incident's firing set; the
intake leaves one chat notice for it (the outbox key names the event's version, so it is posted once),
and the war room shows the line with its status buttons (the one-click move to mitigated or resolved).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from incident_core import commands as cmd
from incident_core import events as ev
from incident_core import richtext as rt
from incident_core.decisions import envelope
from incident_core.model import Status
from incident_core.notices import notice_message
from incident_core.ports import OutboxMessage
from incident_core.state import IncidentState

_QUIET = (Status.RESOLVED, Status.CLOSED)


def resolve_signal_events(s: IncidentState, c: cmd.ResolveSignal) -> list[ev.Event]:
    """SignalResolved, plus AllClearReached when it leaves nothing firing (or PagerDuty resolved it)."""
    events: list[ev.Event] = [ev.SignalResolved(**envelope(s, c), fingerprint=c.fingerprint, title=c.title,
                                                reason=c.reason, ended_at=c.ended_at)]
    reason = all_clear_reason(s, c)
    if reason:
        events.append(ev.AllClearReached(**envelope(s, c, 2), reason=reason, resolved=max(s.fired, 1)))
    return events


def all_clear_reason(s: IncidentState, c: cmd.ResolveSignal) -> str | None:
    """Why this resolution is the all clear, or None when it is not (or was already said)."""
    if s.all_clear_at is not None or s.status in _QUIET:
        return None
    if c.source == "pagerduty":
        return c.note or "the PagerDuty incident was resolved"
    if c.fingerprint in s.firing and not [f for f in s.firing if f != c.fingerprint]:
        count = max(s.fired, 1)
        return ("its only firing signal resolved" if count == 1
                else f"all {count} signals that fired have resolved")
    return None


def notice(state: IncidentState) -> OutboxMessage:
    """The chat notice of the all clear (once per AllClearReached: its version is in the key)."""
    content = rt.doc(rt.para(
        "✅ ", rt.b(f"All clear on {state.human_id}"), f": {state.all_clear_reason}. ",
        "If the service is healthy, move the incident on with the war room's ", rt.b("Mitigated"), " or ",
        rt.b("Resolved"), " button (or ", rt.cmd("status resolved"), ")."))
    return notice_message(state.incident_id, content, f"all-clear:{state.incident_id}:{state.version}")


def line(state: IncidentState) -> str | None:
    """The war-room line while the incident is all clear and not yet resolved."""
    if not state.all_clear_at or state.status in _QUIET:
        return None
    at = datetime.fromisoformat(state.all_clear_at)
    return f"All clear since {at:%H:%M} UTC: {state.all_clear_reason}. Mitigated or Resolved moves it on."


def auto_resolve_at(state: IncidentState, after: timedelta | None) -> datetime | None:
    """When an all-clear incident resolves itself under `after` (the project's auto_resolve_after); None: never."""
    if after is None or not state.all_clear_at or state.status in _QUIET:
        return None
    return datetime.fromisoformat(state.all_clear_at) + after


def auto_resolve_due(state: IncidentState, now: datetime, after: timedelta | None) -> cmd.ChangeStatus | None:
    """The command that resolves an incident all clear for `after` (the project's auto_resolve_after)."""
    at = auto_resolve_at(state, after)
    if at is None or after is None or now < at:
        return None
    since = at - after
    minutes = int(after.total_seconds() // 60)
    return cmd.ChangeStatus(org_id=state.org_id, incident_id=state.incident_id, actor="system:auto-resolve",
                            occurred_at=now, status=Status.RESOLVED,
                            note=f"resolved automatically: all clear since {since:%H:%M} UTC ({state.all_clear_reason}) "
                                 f"and the project's auto_resolve_after is {minutes} min")
