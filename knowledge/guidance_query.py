"""The retrieval query for an incident: its title, signals, log highlights, notes and chat, cleaned.

Everything here is untrusted text (alerts, logs, chat): it only ever becomes search words, never a
command, a step or a risk level.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from incident_core import events as ev
from incident_core.state import IncidentState
from knowledge.guidance_text import terms
from knowledge.query import build_search_text, from_log

MAX_SIGNALS = 12
MAX_NOTES = 5
MAX_CHAT = 8
MAX_PIECE = 400
MAX_QUERY = 3000
_LABEL_KEYS = ("namespace", "deployment", "service", "app", "container", "job")


@dataclass(frozen=True)
class IncidentQuery:
    """The search text, its salient terms (signal terms weigh double) and labels for catalog actions."""

    text: str
    terms: set[str]
    signal_terms: set[str]
    labels: dict[str, str] = field(default_factory=dict)


def _signal_text(signal: dict[str, Any]) -> str:
    labels = {k: v for k, v in (signal.get("labels") or {}).items() if isinstance(v, str)}
    payload = {"title": signal.get("title", ""), "description": str(signal.get("description", ""))[:MAX_PIECE],
               "labels": labels}
    if signal.get("service"):
        payload["service"] = signal["service"]
    return build_search_text(payload)


def incident_query(state: IncidentState, events: Sequence[ev.Event]) -> IncidentQuery:
    """Build the query from the incident's state and timeline (newest signals and notes first)."""
    signals = [e.signal for e in events if isinstance(e, ev.SignalAttached)]
    seen: dict[str, None] = {}
    labels: dict[str, str] = {}
    for signal in reversed(signals):
        key = str(signal.get("fingerprint") or signal.get("title"))
        if key in seen or len(seen) >= MAX_SIGNALS:
            continue
        seen[key] = None
        for name in _LABEL_KEYS:
            value = (signal.get("labels") or {}).get(name)
            if isinstance(value, str) and value and name not in labels:
                labels[name] = value
        if signal.get("service") and "service" not in labels:
            labels["service"] = str(signal["service"])
    signal_parts = [_signal_text(s) for s in reversed(signals) if str(s.get("fingerprint") or s.get("title")) in seen]
    signal_parts = list(dict.fromkeys(p for p in signal_parts if p))[:MAX_SIGNALS]
    logs = from_log("\n".join(list(state.log_lines)[:10])) if state.log_lines else ""
    notes = [e.text for e in events if isinstance(e, ev.NoteAdded)][-MAX_NOTES:]
    notes += [e.note for e in events if isinstance(e, ev.StatusChanged) and e.note][-2:]
    chat = [e.text for e in events if isinstance(e, ev.ChatMessageCaptured) and e.text.strip()][-MAX_CHAT:]
    head = [state.title, state.summary, " ".join(state.services)]
    pieces = [*head, *signal_parts, logs, *reversed(notes), *reversed(chat)]
    text = " ".join(re.sub(r"\s+", " ", p).strip()[:MAX_PIECE] for p in pieces if p and p.strip())
    return IncidentQuery(text=text[:MAX_QUERY], terms=terms(text[:MAX_QUERY]),
                         signal_terms=terms(" ".join([state.title, *signal_parts, " ".join(state.services)])),
                         labels=labels)
