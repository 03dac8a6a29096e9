"""A runbook's own alert vocabulary: what it says the alert means, and the metric names its expressions use.

Responders describe symptoms ("pods keep restarting"); runbooks are keyed by alert names
(`KubePodCrashLooping`) and open with what the alert means. Every section of a document is indexed
with this vocabulary, so a symptom that matches the meaning finds the diagnosis and mitigation sections
too. Nothing here is a hand-written synonym list: the words come from the document itself.
"""

from __future__ import annotations

import re

from knowledge.markdown import ParsedDocument, split_camel

_MEANING = re.compile(r"\b(meaning|description|summary|overview|symptoms?|what (?:it|this) means|about)\b", re.I)
_METRIC = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+){2,}\b")
_METRIC_NOISE = frozenset({"total", "bucket", "count", "sum", "seconds", "bytes", "info", "by", "rate", "over", "time"})
_MAX_CHARS = 400


def document_vocabulary(doc: ParsedDocument) -> str:
    """The alert name split into words, the meaning paragraph and metric names as words (≤ 400 chars)."""
    parts: list[str] = []
    camel = split_camel(doc.title)
    if camel.lower() != doc.title.lower():
        parts.append(camel)
    meaning = _meaning(doc)
    if meaning:
        parts.append(meaning)
    metrics = _metric_words(doc)
    if metrics:
        parts.append(metrics)
    return " | ".join(parts)[:_MAX_CHARS]


def _meaning(doc: ParsedDocument) -> str:
    """The first prose of a 'Meaning'-like section, else of the document intro."""
    intro = ""
    for section in doc.sections:
        text = _prose(section.text)
        if not text:
            continue
        if section.heading_path and _MEANING.search(section.heading_path[-1]):
            return text
        if not intro and len(section.heading_path) <= 1:
            intro = text
    return intro


def _prose(text: str) -> str:
    """The first paragraph of a section, without code fences, links syntax and Hugo shortcodes."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\{\{<.*?>\}\}", " ", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    for paragraph in re.split(r"\n\s*\n", text):
        cleaned = " ".join(paragraph.split()).strip("#-* ")
        if len(cleaned) > 20 and not cleaned.lower().startswith(("title:", "weight:", "aliases:")):
            return cleaned[:300]
    return ""


def _metric_words(doc: ParsedDocument) -> str:
    """Prometheus metric names used in the document, as words ('etcd mvcc db size in use')."""
    seen: dict[str, None] = {}
    for section in doc.sections:
        for name in _METRIC.findall(re.sub(r"https?://\S+", " ", section.text)):
            words = [w for w in name.split("_") if w not in _METRIC_NOISE and len(w) > 1]
            if len(words) >= 2:
                seen.setdefault(" ".join(words), None)
    return "; ".join(list(seen)[:8])
