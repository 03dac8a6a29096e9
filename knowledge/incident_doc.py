"""The knowledge loop: a resolved incident becomes a short document in its org's knowledge (kind "incident").

The text comes from alerts, logs and chat, so it is neutralised before indexing: no code fences or
inline code survive, so the ingester extracts no commands from it (and guidance never takes commands
from incident documents anyway — they only feed "seen before").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from incident_core import events as ev
from incident_core.state import IncidentState
from knowledge.guidance_seen import incident_doc_id

MAX_LINE = 240


def _plain(text: str) -> str:
    text = re.sub(r"^\s*(```|~~~).*$", " ", text, flags=re.M)
    text = text.replace("`", "'").replace("#", "")
    return re.sub(r"\s+", " ", text).strip()[:MAX_LINE]


def resolution(state: IncidentState, events: Sequence[ev.Event]) -> str:
    """What resolved it: executed actions, then the notes given when it was mitigated or resolved."""
    done = [a.name for a in state.actions.values() if a.status == "executed"]
    notes = [e.note for e in events if isinstance(e, ev.StatusChanged) and e.note
             and e.to_status.value in ("identified", "mitigated", "resolved")]
    parts = [str(p) for p in [*done, *notes] if p]
    return "; ".join(_plain(p) for p in parts[-4:]) or "not recorded"


def incident_markdown(state: IncidentState, events: Sequence[ev.Event]) -> str:
    """One section: title, resolution, services, correlation keys, signals and the last notes."""
    signals = [e.signal for e in events if isinstance(e, ev.SignalAttached)]
    titles = list(dict.fromkeys(_plain(f"{s.get('title')} ({s.get('service') or 'no service'})") for s in signals))
    notes = [_plain(e.text) for e in events if isinstance(e, ev.NoteAdded)][-5:]
    keys = [k for k in state.correlation_keys if not k.startswith("fingerprint=")][:20]
    lines = [
        f"# {state.human_id}: {_plain(state.title)}",
        "",
        f"Resolved by: {resolution(state, events)}",
        "",
        f"Severity {state.severity.value}; status {state.status.value}.",
        f"Services: {', '.join(state.services) or 'none named'}",
        f"Correlation keys: {', '.join(keys) or 'none'}",
    ]
    if titles:
        lines.append("Signals: " + "; ".join(titles[:8]))
    if notes:
        lines.append("Notes: " + " / ".join(notes))
    return "\n".join(lines) + "\n"


def index_incident(kb: object, state: IncidentState, events: Sequence[ev.Event], *,
                   project: str | None = None) -> int:
    """Index (or re-index) a resolved incident into its org's knowledge; sections written (0 if unchanged)."""
    service = state.services[0] if len(state.services) == 1 else None
    return int(kb.index_document(  # type: ignore[attr-defined]
        state.org_id, incident_doc_id(state), f"{state.human_id}: {state.title}", incident_markdown(state, events),
        kind="incident", project=project, service=service))
