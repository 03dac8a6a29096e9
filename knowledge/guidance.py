"""RetrievalGuidance: cited next steps, diagnostic questions and "seen before" from the org's knowledge.

Grounding rules (docs/guidance.md): a step comes from a retrieved runbook section and cites it; its
command is one of that section's extracted commands, verbatim; its risk comes from the policy in
incident_core. Past incidents and postmortems only ever feed "seen before" (their text came from
alerts and chat, so they never contribute commands). Below the relevance threshold nothing is
suggested and the answer says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Protocol

from incident_core.guidance import Guidance, GuidanceRequest, Question, Suggestion
from knowledge.guidance_actions import price
from knowledge.guidance_query import IncidentQuery, incident_query
from knowledge.guidance_seen import PAST_KINDS, seen_before
from knowledge.guidance_text import relevance, split_steps, terms
from knowledge.models import Hit

DEFAULT_THRESHOLD = 0.4
MAX_STEPS = 5
MAX_DOCS = 3
MAX_QUESTIONS = 3
PER_DOCUMENT = 3  # steps from one runbook before the next runbook gets a turn
FEEDBACK_WEIGHT = 0.15  # confidence moved per net vote on the exact section (half that for its document)
SECTION_K = 24
DOCUMENT_K = 10
_DIAGNOSE = re.compile(r"diagnos|investigat|triage|check|verif|debug|confirm|identify|find", re.I)
_MITIGATE = re.compile(r"mitigat|fix|remed|resolv|recover|rollback|roll back|workaround|steps|action|respon|"
                       r"procedure|what to do", re.I)
_SYMPTOMS = re.compile(r"symptom|signs|what you see|detection", re.I)


class Searcher(Protocol):
    """The part of KnowledgeBase guidance uses."""

    def search(self, org_id: str, query: str | dict[str, Any], *, k: int = 5, project: str | None = None,
               service: str | None = None, per_document: int = 1) -> list[Hit]: ...

    def holds_documents(self, org_id: str) -> bool: ...


@dataclass(frozen=True)
class Retrieved:
    """What one retrieval found for an incident: the query, its sections and the best documents."""

    query: IncidentQuery
    sections: list[Hit]
    documents: list[Hit]

    def sources(self) -> dict[str, Hit]:
        """Every retrieved section by its citation (path#section)."""
        return {h.source: h for h in [*self.sections, *self.documents]}


def section_role(hit: Hit) -> str | None:
    """"diagnose", "mitigate", "symptoms" or None (impact, references… carry no steps worth suggesting)."""
    name = hit.section or ""
    if _SYMPTOMS.search(name):
        return "symptoms"
    if _DIAGNOSE.search(name):
        return "diagnose"
    if _MITIGATE.search(name):
        return "mitigate"
    return None


class RetrievalGuidance:
    """GuidanceSource over a KnowledgeBase; deterministic and offline."""

    def __init__(self, kb: Searcher, *, threshold: float = DEFAULT_THRESHOLD, max_steps: int = MAX_STEPS,
                 semantic_floor: float | None = None) -> None:
        self.kb = kb
        self.threshold = threshold
        self.max_steps = max_steps
        # Cosine similarity above which the embedder's match alone is evidence (None: lexical evidence only).
        self.semantic_floor = semantic_floor if semantic_floor is not None else getattr(kb, "relevance_floor", None)

    def has_knowledge(self, org_id: str) -> bool:
        """Whether the org has anything indexed (a collection lookup, ~0.2 ms when it has none)."""
        return self.kb.holds_documents(org_id)

    def guide(self, request: GuidanceRequest) -> Guidance:
        """Retrieve for the incident and compose the guidance."""
        return self.compose(request, self.retrieve(request))

    def retrieve(self, request: GuidanceRequest) -> Retrieved:
        """Search the org's knowledge with the incident's query (sections, then one per document)."""
        query = incident_query(request.state, request.events)
        if not query.text.strip():
            return Retrieved(query, [], [])
        org, project = request.org_id, request.project
        sections = self.kb.search(org, query.text, k=SECTION_K, project=project, per_document=0)
        documents = self.kb.search(org, query.text, k=DOCUMENT_K, project=project, per_document=1)
        return Retrieved(query, sections, documents)

    def compose(self, request: GuidanceRequest, found: Retrieved) -> Guidance:
        """Rank documents by relevance, turn their sections into steps and questions, find past incidents."""
        weights = {t: 2.0 if t in found.query.signal_terms else 1.0 for t in found.query.terms}
        hits = list(found.sources().values())
        docs = self._ranked_runbooks(request, hits, weights)
        needed = 1 if len(found.query.terms) <= 2 else 2  # one shared word is a coincidence, not evidence
        relevant = [d for d in docs
                    if d[0] >= self.threshold and (len(d[1]) >= needed or self._semantic(d[2]) is not None)][:MAX_DOCS]
        suggestions: list[Suggestion] = []
        questions: list[Question] = []
        for rank, (rel, matched, group) in enumerate(relevant):
            steps, asks = self._steps(request, found.query, group, rel, matched, rank)
            suggestions += steps
            questions += asks
        suggestions = _dedupe(sorted(suggestions, key=lambda s: -s.confidence))  # raw scores rank…
        suggestions = [replace(s, confidence=round(max(0.02, min(0.99, s.confidence)), 3))  # …then clamp
                       for s in _capped(suggestions, per_document=PER_DOCUMENT)[: self.max_steps]]
        past = seen_before(request.state, hits, weights, self.threshold, prefer=request.prefer)
        nothing = not suggestions and not past
        return Guidance(
            suggestions=tuple(suggestions), questions=tuple(_dedupe_questions(questions)[:MAX_QUESTIONS]),
            seen_before=tuple(past), nothing_found=nothing,
            message=self._nothing_message(request, docs, hits) if nothing else "",
            query=found.query.text[:500], engine="retrieval", retrieved=len(hits))

    def _ranked_runbooks(self, request: GuidanceRequest, hits: list[Hit],
                         weights: dict[str, float]) -> list[tuple[float, list[str], list[Hit]]]:
        by_path: dict[str, list[Hit]] = {}
        for hit in hits:
            if hit.kind not in PAST_KINDS:
                by_path.setdefault(hit.path, []).append(hit)
        ranked = []
        top = max((h.score for h in hits), default=0.0) or 1.0
        for group in by_path.values():
            text = " ".join(f"{h.title} {h.section} {h.text} {h.service or ''}" for h in group)
            rel, matched = relevance(weights, terms(text))
            named = terms(group[0].title) & weights.keys()  # the query names what the runbook is about
            rel += 0.15 * min(1.0, len(named) / max(1, min(2, len(terms(group[0].title)))))
            if any(h.service and h.service in request.state.services for h in group):
                rel += 0.1
            rel = min(1.0, rel + 0.1 * max(h.score for h in group) / top)  # the retriever's own ranking
            semantic = self._semantic(group)
            if semantic is not None:  # the embedder is confident the runbook means what the incident says
                rel = max(rel, min(1.0, self.threshold + semantic))
            ranked.append((rel, matched, sorted(group, key=lambda h: -h.score)))
        ranked.sort(key=lambda d: (-d[0], -max(h.score for h in d[2])))
        return ranked

    def _semantic(self, group: list[Hit]) -> float | None:
        """How far the group's best similarity clears the embedder's relevance floor (None: not at all)."""
        if self.semantic_floor is None:
            return None
        best = max((h.similarity for h in group if h.similarity is not None), default=None)
        return None if best is None or best < self.semantic_floor else best - self.semantic_floor

    def _steps(self, request: GuidanceRequest, query: IncidentQuery, group: list[Hit], rel: float,
               matched: list[str], rank: int) -> tuple[list[Suggestion], list[Question]]:
        order = {"diagnose": 0, "mitigate": 1, "symptoms": 2}
        sections = sorted((h for h in group if section_role(h)), key=lambda h: order[section_role(h) or ""])
        out: list[Suggestion] = []
        questions: list[Question] = []
        positions = {"diagnose": 0.0, "mitigate": 0.5}  # interleave: look first, then act, then look further
        for hit in sections:
            role = section_role(hit)
            items, loose = split_steps(hit.text, hit.steps, hit.commands)
            if role == "symptoms":
                questions += [Question(f"Do you see this too: {i.text.rstrip('.?')}?", hit.source)
                              for i in items if not _evident(i.text, query)]
                continue
            nothing: list[dict[str, str] | None] = [None]
            pairs = [(i.text, c) for i in items for c in (list(i.commands) or nothing)]
            pairs += [(f"{hit.section}: run this", c) for c in loose]
            for text, command in pairs:
                priced = price(command, text, hit.source, query.labels)
                if priced is None:
                    if role == "diagnose" and text:
                        questions.append(Question(as_question(text), hit.source))
                    continue
                why = f"{hit.title} › {hit.section}: matches {', '.join(matched[:4]) or 'the incident'}"
                out.append(Suggestion(
                    title=priced.title, quote=text, why=why, source=hit.source, source_url=hit.url or "",
                    risk=priced.risk,
                    risk_reason=priced.reason, command=command["command"] if command else None,
                    action=priced.action, params=priced.params, reversible=priced.reversible, undo=priced.undo,
                    confidence=self._confidence(request, hit, rel, rank, positions[role or "diagnose"])))
                positions[role or "diagnose"] += 1
        return out, questions

    def _confidence(self, request: GuidanceRequest, hit: Hit, rel: float, rank: int, position: float) -> float:
        votes = request.feedback.get(hit.source, 0)
        path_votes = sum(v for s, v in request.feedback.items() if s.split("#", 1)[0] == hit.path) - votes
        score = 0.35 + 0.55 * rel - 0.05 * rank - 0.03 * position
        score += FEEDBACK_WEIGHT * max(-3, min(3, votes)) + FEEDBACK_WEIGHT / 2 * max(-3, min(3, path_votes))
        return score  # unclamped while ranking; compose() clamps it to (0, 1) for display

    def _nothing_message(self, request: GuidanceRequest, docs: list[tuple[float, list[str], list[Hit]]],
                         hits: list[Hit]) -> str:
        who = request.state.human_id
        if not hits:
            return (f"No runbooks or past incidents are indexed for this org yet, so there is nothing to suggest "
                    f"for {who}. Ingest some with `revenant knowledge ingest PATH --org ORG`.")
        best = docs[0] if docs else None
        closest = f" (closest: {best[2][0].source} at {best[0]:.2f}; needed {self.threshold:.2f})" if best else ""
        return (f"Nothing in this org's runbooks or past incidents matches {who} closely enough{closest}, so "
                "no steps are suggested rather than guessing. Add what you see with `/revenant note …` and ask "
                "again with `/revenant suggest`.")


def as_question(step: str) -> str:
    """A diagnosis step without a command, asked as a question ("Check if X" → "Have you checked if X?")."""
    text = step.strip().rstrip(".")
    if text.endswith("?"):
        return text
    for verb, asked in (("check", "checked"), ("look", "looked"), ("verify", "verified"), ("confirm", "confirmed")):
        if text.lower().startswith(verb + " "):
            return f"Have you {asked} {text[len(verb) + 1:]}?"
    return f"Have you checked: {text}?"


def _evident(symptom: str, query: IncidentQuery) -> bool:
    wanted = terms(symptom)
    return bool(wanted) and len(wanted & query.terms) >= max(2, len(wanted) // 2)


def _dedupe(suggestions: list[Suggestion]) -> list[Suggestion]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for s in suggestions:
        catalog = s.action is not None and s.action != "runbook_command"
        key = (s.action, tuple(sorted(s.params.items()))) if catalog else (s.command or s.quote or s.title,)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _capped(suggestions: list[Suggestion], *, per_document: int) -> list[Suggestion]:
    counts: dict[str, int] = {}
    first: list[Suggestion] = []
    rest: list[Suggestion] = []
    for s in suggestions:
        path = s.source.split("#", 1)[0]
        counts[path] = counts.get(path, 0) + 1
        (first if counts[path] <= per_document else rest).append(s)
    return first + rest


def _dedupe_questions(questions: list[Question]) -> list[Question]:
    seen: set[str] = set()
    out = []
    for q in questions:
        if q.text not in seen:
            seen.add(q.text)
            out.append(q)
    return out
