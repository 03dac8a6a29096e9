"""An optional second stage after fusion: re-score the top documents' best sections with a finer signal.

No cross-encoder ships (none is available offline here with its weights; docs/benchmarks.md, issue 16, seventh
session), so the signals use what the project already has:

- "sentences": the best cosine between the query and any single sentence or line of the section, embedded with
  the org's embedder at query time (a symptom usually matches one sentence of a long, generic section);
- "coverage": the share of the query's distinct terms (the BM25 analyzer's) found in the section, each weighted
  by how rare it is among the candidates;
- "card": the same share over the document's title, aliases and alert vocabulary instead of the section.

The new score is fused + weight * signal (the signal's raw value, 0..1, or min-max normalised over the re-scored
candidates); only the first `top` candidates are re-scored, so the rest keep their places. HybridSearcher applies a
Reranker only when one is given to it; nothing in the product does: on the dev split every signal and weight tried
tied or lost (docs/benchmarks.md), so this stage is for the benchmark (bench/retrieval_quality.py --rerank) and the
place where a shipped cross-encoder would go.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

SIGNALS = ("sentences", "coverage", "card")
CARD_KEYS = ("title", "aliases", "vocabulary")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


class Tokenizer(Protocol):
    """The BM25 analyzer's interface (knowledge.lexical.Analyzer)."""

    def tokens(self, text: str) -> list[str]: ...


class Embedder(Protocol):
    """What the sentence signal needs from an embedder (LlamaIndex BaseEmbedding has it)."""

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class RerankParams:
    """Which signal, how many top candidates it re-scores, its weight, and per-section limits."""

    signal: str = "sentences"
    top: int = 5
    weight: float = 0.1
    max_sentences: int = 8
    max_chars: int = 600  # a sentence is cut here (~128 word pieces), so one embedding stays cheap
    normalise: bool = False  # min-max the signal over the re-scored candidates (else its raw value, 0..1)

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(f"rerank signal must be one of {', '.join(SIGNALS)}")
        if self.top < 2 or self.weight < 0:
            raise ValueError("rerank needs top >= 2 and a weight >= 0")


def sentences(text: str, *, limit: int, max_chars: int) -> list[str]:
    """The section's sentences and lines with at least three words, longest first, at most limit of them."""
    parts = [p.strip(" \t-*#>|") for p in _SENTENCE.split(text)]
    kept = [p[:max_chars] for p in parts if len(p.split()) >= 3]
    return sorted(dict.fromkeys(kept), key=len, reverse=True)[:limit]


class Reranker:
    """Re-scores the fused top candidates of one query."""

    def __init__(self, params: RerankParams, *, embedder: Embedder, analyzer: Tokenizer) -> None:
        self.params = params
        self._embedder = embedder
        self._analyzer = analyzer

    def rescore(self, query: str, vector: np.ndarray,
                candidates: Sequence[tuple[str, Mapping[str, Any], float]]) -> list[float]:
        """New scores for (section text, section metadata, fused score), best first as fused; only the first `top`
        change."""
        scores = [score for _, _, score in candidates]
        n = min(self.params.top, len(candidates))
        if n < 2 or self.params.weight == 0:
            return scores
        texts = [text for text, _, _ in candidates[:n]]
        if self.params.signal == "sentences":
            signal = self._sentences(vector, texts)
        elif self.params.signal == "card":
            cards = ["\n".join(str(meta.get(key) or "") for key in CARD_KEYS) for _, meta, _ in candidates[:n]]
            signal = self._coverage(query, cards)
        else:
            signal = self._coverage(query, texts)
        lo, hi = (min(signal), max(signal)) if self.params.normalise else (0.0, 1.0)
        if hi <= lo:
            return scores
        for j in range(n):
            scores[j] += self.params.weight * (signal[j] - lo) / (hi - lo)
        return scores

    def _sentences(self, vector: np.ndarray, texts: Sequence[str]) -> list[float]:
        """Per section, the best cosine of the query to one of its sentences (0 for a section without any)."""
        per = [sentences(t, limit=self.params.max_sentences, max_chars=self.params.max_chars) for t in texts]
        flat = [s for group in per for s in group]
        if not flat:
            return [0.0] * len(texts)
        emb = np.asarray(self._embedder.get_text_embedding_batch(flat), dtype=np.float32)
        sims = emb @ np.asarray(vector, dtype=np.float32)
        out, at = [], 0
        for group in per:
            out.append(float(sims[at : at + len(group)].max()) if group else 0.0)
            at += len(group)
        return out

    def _coverage(self, query: str, texts: Sequence[str]) -> list[float]:
        """Per section, the rarity-weighted share of the query's distinct terms it contains."""
        terms = set(self._analyzer.tokens(query))
        if not terms:
            return [0.0] * len(texts)
        bags = [set(self._analyzer.tokens(t)) for t in texts]
        n = len(bags)
        idf = {t: math.log(1 + n / (1 + sum(t in b for b in bags))) for t in terms}
        total = sum(idf.values())
        return [sum(idf[t] for t in terms if t in b) / total for b in bags]

