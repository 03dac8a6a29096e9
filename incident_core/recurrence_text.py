"""The war-room line of a recorded recurrence, from the incident's state (our own ids and counts only)."""

from __future__ import annotations

from incident_core.state_models import Recurrence

SHOWN = 5  # earlier incidents named in the line; the rest are counted


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 22nd."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def line(recurrence: Recurrence | None) -> str:
    """`4th time in 30 days: INC-3, INC-7, INC-9 · postmortem of INC-7 · 2 action items still open`; for a
    withdrawn match, `no longer applies: INC-3 is outside the 7-day window (recurrence_days changed from 30)`."""
    prior = list(recurrence.prior) if recurrence else []
    if recurrence is not None and not prior and recurrence.withdrawn:
        return f"no longer applies: {recurrence.withdrawn_reason or 'the earlier incidents no longer count'}"
    if recurrence is None or not prior:
        return ""
    shown = prior[-SHOWN:]
    more = f" (+{len(prior) - len(shown)} earlier)" if len(prior) > len(shown) else ""
    parts = [f"{ordinal(len(prior) + 1)} time in {recurrence.window_days or 30} days: {', '.join(shown)}{more}"]
    pms = [p.incident for p in recurrence.postmortems]
    parts.append(f"postmortem{'s' if len(pms) > 1 else ''} of {', '.join(pms)}" if pms else "no postmortem yet")
    opened, done, unknown = recurrence.items_open, recurrence.items_done, recurrence.items_unknown
    if opened:
        parts.append(f"{opened} action item{'s' if opened > 1 else ''} still open")
    elif done:
        parts.append(f"all {done} action item{'s' if done > 1 else ''} done")
    if unknown:
        parts.append(f"{unknown} action item{'s' if unknown > 1 else ''} with unknown status")
    return " · ".join(parts)
