""""Seen before": similar past incidents and postmortems of the same org, and what resolved them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from incident_core.guidance import SeenBefore
from incident_core.state import IncidentState
from knowledge.guidance_text import relevance, terms
from knowledge.models import Hit

PAST_KINDS = ("incident", "postmortem")
MAX_SEEN = 3
INCIDENT_DOC_PREFIX = "incidents/"
_RESOLVED_LINE = re.compile(r"^\s*(?:[-*]\s*)?resolved by:\s*(.+)$", re.I | re.M)
_RESOLVING = re.compile(
    r"\b(mitigat\w*|resolv\w*|roll(?:ed|ing)? ?back|rollback|revert\w*|scaled?|restart\w*|fix\w*|fail(?:ed)? ?over|"
    r"flush\w*|renew\w*|drain\w*|disabled?|turned off|back to baseline)\b", re.I)
_KEY_KINDS = ("alertname+service=", "alertname=")


def incident_doc_id(state: IncidentState) -> str:
    """The knowledge-loop document id of an incident (its own doc is never "seen before" for itself)."""
    return f"{INCIDENT_DOC_PREFIX}{state.human_id}"


def resolution_of(hits: Iterable[Hit]) -> str:
    """What resolved a past incident: its "Resolved by" line, else the lines that mitigated or fixed it."""
    hits = list(hits)
    for hit in hits:
        found = _RESOLVED_LINE.search(hit.text)
        if found:
            return found.group(1).strip()[:300]
    lines = [step for hit in hits for step in (hit.steps or hit.text.split("\n")) if _RESOLVING.search(step)]
    if lines:
        return "; ".join(re.sub(r"\s+", " ", line).strip(" -*") for line in lines[:2])[:300]
    return "not recorded in the retrieved sections — open the document"


def _evidence(state: IncidentState, hits: list[Hit], text: str, rel: float, matched: list[str]) -> str | None:
    keys = [k.split("=", 1)[1] for k in state.correlation_keys if k.startswith(_KEY_KINDS)]
    same_key = next((k for k in keys if k and k in text), None)
    if same_key:
        return f"same alert {same_key}"
    services = {h.service for h in hits if h.service}
    same_service = next((s for s in state.services if s in services or f"Services: {s}" in text), None)
    if same_service and matched:
        return f"same service {same_service}; similar: {', '.join(matched[:3])}"
    return None


def seen_before(state: IncidentState, hits: Iterable[Hit], weights: dict[str, float],
                threshold: float, *, prefer: Iterable[str] = ()) -> list[SeenBefore]:
    """Past incidents/postmortems among the hits: same alert, same service, or similar enough text.

    Documents in `prefer` (the postmortems of the recurring pattern this incident matches) come first.
    """
    preferred = set(prefer)
    own = incident_doc_id(state)
    by_path: dict[str, list[Hit]] = {}
    for hit in hits:
        if hit.kind in PAST_KINDS and hit.path != own and hit not in by_path.get(hit.path, []):
            by_path.setdefault(hit.path, []).append(hit)
    found = []
    for path, group in by_path.items():
        text = "\n".join(f"{h.title}\n{h.section}\n{h.text}" for h in group)
        rel, matched = relevance(weights, terms(text))
        why = "same recurring pattern" if path in preferred else _evidence(state, group, text, rel, matched)
        if why is None and rel >= threshold:
            why = f"similar: {', '.join(matched[:4])}"
        if why is None:
            continue
        best = max(group, key=lambda h: h.score)
        score = round(rel + (0.5 if why.startswith("same alert") else 0.0) + (2.0 if path in preferred else 0.0), 3)
        found.append(SeenBefore(title=best.title or path, source=best.source, kind=best.kind, why=why,
                                resolution=resolution_of(group), score=score))
    found.sort(key=lambda s: -s.score)
    return found[:MAX_SEEN]
