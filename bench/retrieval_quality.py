"""Retrieval quality on the responder set (benchmark, not a test): recall@1/3/5 and MRR per query type,
top-suggestion precision and abstention on off-topic questions, and ablations.

    .venv/bin/python bench/retrieval_quality.py [--embedder offline|hashing] [--mode hybrid|vector|bm25]
                                                [--split test|dev|all] [--tune] [--json] [--variant SPEC]
                                                [--model-dir DIR] [--sweep [FROM:TO:STEP]]

--model-dir runs the offline embedder on another exported model (model.onnx, tokenizer.json, SHA256SUMS, as
scripts/export_embedding_model.py --target writes them) instead of the shipped all-MiniLM-L6-v2; its cosines are
calibrated differently, so give --threshold, or --tune / --sweep for the floor. A model that expects an instruction
before queries (BGE: "Represent this sentence for searching relevant passages: ") is measured with and without it by
--compare --variant "prefix:TEXT" (the prefix is added to the embedded query only; BM25 reads the query as it is).

The index holds the 108 prometheus-operator runbooks (bench/corpora/prometheus-runbooks, Apache-2.0) and the
shipped runbooks and postmortems (bot/demo_data). Fusion weights and the abstention threshold are tuned
on the dev split (--tune) and reported on the test split.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrieval import copy_corpus  # noqa: E402

from knowledge.embedder_onnx import OnnxMiniLMEmbedding  # noqa: E402
from knowledge.embeddings import make_embedder  # noqa: E402
from knowledge.evaluation import EvalQuery, first_relevant_rank  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402
from knowledge.models import Hit  # noqa: E402
from knowledge.retrieval import FusionParams  # noqa: E402

DEMO = ROOT / "bot" / "demo_data"
RESPONDER = ROOT / "bench" / "queries" / "responder.jsonl"
OFF_TOPIC = ROOT / "bench" / "queries" / "off-topic.jsonl"
ORG = "eval"


@dataclass(frozen=True)
class Labelled:
    """A responder query with its type and split."""

    query: EvalQuery
    type: str
    split: str


def load(path: Path) -> list[dict[str, Any]]:
    """JSONL rows."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def labelled(split: str, path: Path = RESPONDER) -> list[Labelled]:
    """Responder queries of one split ('all' for both); another set (path) has no splits: all of it, typed by its
    "type" or "style" field."""
    rows = [r for r in load(path) if split == "all" or r.get("split", split) == split]
    return [Labelled(EvalQuery(r["id"], r["query"], tuple(r["expected"])), r.get("type") or r.get("style", "other"),
                     r.get("split", split)) for r in rows]


def off_topic(split: str) -> list[str]:
    """Off-topic questions of one split."""
    return [r["query"] for r in load(OFF_TOPIC) if split == "all" or r["split"] == split]


def exported_model(model_dir: Path) -> OnnxMiniLMEmbedding:
    """The offline embedder running another exported model (scripts/export_embedding_model.py --target)."""
    return OnnxMiniLMEmbedding(model_dir=model_dir, model_name=f"bench:{model_dir.resolve().name}")


def build_kb(work: Path, embedder: str, mode: str, model_dir: Path | None = None) -> KnowledgeBase:
    """A knowledge base with both corpora ingested into one org (the offline embedder from model_dir if given)."""
    model = exported_model(model_dir) if model_dir else make_embedder(embedder)
    kb = KnowledgeBase(data_dir=work / f"kb-{embedder}-{mode}", embedder=model, retrieval=mode)
    kb.ingest(DEMO, ORG)
    kb.ingest(copy_corpus(work / "prometheus-runbooks"), ORG)
    return kb


def top_similarity(hits: list[Hit]) -> float:
    """The confidence signal abstention uses: the top hit's cosine similarity to the query."""
    return (hits[0].similarity or 0.0) if hits else 0.0


def report(kb: KnowledgeBase, queries: list[Labelled], off: list[str], threshold: float) -> dict[str, Any]:
    """Recall/MRR per type, precision of the top suggestion and abstention at the threshold."""
    hits = kb.search_batch(ORG, [q.query.query for q in queries] + off, 5)
    on_hits, off_hits = hits[: len(queries)], hits[len(queries) :]
    by_type: dict[str, list[int | None]] = defaultdict(list)
    answered = correct = 0
    for q, h in zip(queries, on_hits, strict=True):
        rank = first_relevant_rank([x.source for x in h], q.query.expected)
        by_type[q.type].append(rank)
        by_type["all"].append(rank)
        if top_similarity(h) >= threshold:
            answered += 1
            correct += int(rank == 1)
    wrongly = sum(1 for h in off_hits if top_similarity(h) >= threshold)
    table = {}
    for name, ranks in by_type.items():
        n = len(ranks)
        table[name] = {
            "n": n,
            **{f"r@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in (1, 3, 5)},
            "mrr": sum(1 / r for r in ranks if r) / n,
        }
    return {
        "types": table,
        "threshold": threshold,
        "precision": correct / (answered + wrongly) if answered + wrongly else 0.0,
        "answered": answered / len(queries) if queries else 0.0,
        "abstention": 1 - wrongly / len(off) if off else 1.0,
        "misses": [q.query.id for q, h in zip(queries, on_hits, strict=True)
                   if first_relevant_rank([x.source for x in h[:3]], q.query.expected) is None],
    }


def tune_threshold(kb: KnowledgeBase, queries: list[Labelled], off: list[str]) -> float:
    """The lowest floor (0.01 steps) at which the top suggestion is right for ≥ 80 % of the dev split."""
    for step in range(20, 90):
        t = step / 100
        if report(kb, queries, off, t)["precision"] >= 0.8:
            return t
    return 0.9


def tune_fusion(kb: KnowledgeBase, queries: list[Labelled]) -> FusionParams:
    """Grid search on dev, by recall@3 then MRR: RRF k and the lexical weight, the convex fusion's alpha,
    section or document ranks."""
    grid = [FusionParams(k=k, w_lexical=w, document_ranks=d, method="rrf")
            for k, w, d in itertools.product((30.0, 60.0), (0.7, 1.0, 1.4, 2.0), (False, True))]
    grid += [FusionParams(alpha=a, document_ranks=d, method="convex")
             for a, d in itertools.product((0.3, 0.4, 0.45, 0.5, 0.6, 0.7), (False, True))]
    best: tuple[tuple[float, float], FusionParams] | None = None
    for params in grid:
        kb._searcher.params = params  # noqa: SLF001 - the benchmark sweeps the searcher's parameters
        row = report(kb, queries, [], 1.0)["types"]["all"]
        key = (row["r@3"], row["mrr"])
        say(f"  {params}: recall@3 {key[0]:.3f} MRR {key[1]:.3f}")
        if best is None or key > best[0]:
            best = (key, params)
    assert best is not None
    return best[1]


def say(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def print_report(name: str, rep: dict[str, Any]) -> None:
    """One markdown table per configuration."""
    print(f"\n### {name}\n\n| type | n | recall@1 | recall@3 | recall@5 | MRR |\n|---|---|---|---|---|---|")
    for t in ("symptom", "vague", "log", "alert", "all"):
        if t in rep["types"]:
            r = rep["types"][t]
            print(f"| {t} | {r['n']} | {r['r@1']:.3f} | {r['r@3']:.3f} | {r['r@5']:.3f} | {r['mrr']:.3f} |")
    print(f"\nabstention threshold {rep['threshold']:.2f}: top-suggestion precision {rep['precision']:.3f}, "
          f"on-topic answered {rep['answered']:.3f}, off-topic abstention {rep['abstention']:.3f}")
    print(f"misses@3: {' '.join(rep['misses'])}")


def compare(kb: KnowledgeBase, variants: list[str], split: str, threshold: float, path: Path = RESPONDER) -> None:
    """The default and each variant on one index, one markdown row each: R@1/R@3/R@5/MRR, R@3 per type,
    precision/answered/abstention at the floor, process CPU per query, and the queries each gains and loses at 3."""
    from retrieval_variants import apply, restore

    queries, off = labelled(split, path), off_topic(split) if path == RESPONDER else []
    embedder = kb._searcher._embedder  # noqa: SLF001
    base: set[str] | None = None
    print("| variant | R@1 / R@3 / R@5 / MRR | symptom | vague | log | alert | precision / answered / abstention "
          "| CPU ms per query | gains / losses at 3 |\n|---|---|---|---|---|---|---|---|---|")
    for spec in ["default", *variants]:
        if spec != "default":
            apply(kb, ORG, spec)
        kb.search_batch(ORG, [queries[0].query.query], 5)  # warm: caches a variant builds on first use
        cpu = time.process_time()
        rep = report(kb, queries, off, threshold)
        cpu = (time.process_time() - cpu) * 1000 / (len(queries) + len(off))
        restore(kb, embedder)
        misses = set(rep["misses"])
        base = misses if base is None else base
        t = rep["types"]
        row = " / ".join(f"{t['all'][m]:.3f}" for m in ("r@1", "r@3", "r@5", "mrr"))
        per = " | ".join(f"{t[n]['r@3']:.3f}" if n in t else "-" for n in ("symptom", "vague", "log", "alert"))
        moved = f"+{' '.join(sorted(base - misses)) or '0'} / -{' '.join(sorted(misses - base)) or '0'}"
        print(f"| `{spec}` | {row} | {per} | {rep['precision']:.3f} / {rep['answered']:.3f} / {rep['abstention']:.3f} "
              f"| {cpu:.1f} | {moved} |", flush=True)


def main() -> None:
    """Build the index, optionally tune on dev, report on the chosen split."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="offline")
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--split", default="test")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--tune", action="store_true", help="tune fusion and threshold on dev first")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--ablate", default="", help="comma list: vocabulary (no runbook vocabulary indexed), "
                        "logs (log lines searched as plain text), shapes (log lines cleaned without knowledge/log_lines.py), "
                        "documents (fusion over sections: reciprocal ranks), rrf (reciprocal-rank fusion instead of the convex one)")
    parser.add_argument("--alpha", type=float, default=None, help="weight of the vector side in the convex fusion")
    parser.add_argument("--variant", action="append", default=[], help="a variant measured and not adopted: field:W, "
                        "prf:BETA:TERMS, assoc:BETA:TERMS, prefix:TEXT, card-vector:N, rm3:BETA:TERMS:DOCS[:GAP[:idf]], "
                        "clauses:WORDS:max|mean, center:GAMMA, bigram:W (bench/retrieval_variants.py); given more than "
                        "once, each is measured in turn on one index against the default, one summary row each")
    parser.add_argument("--compare", action="store_true", help="with one --variant: a row for the default and one "
                        "for the variant, as when --variant is given more than once (e.g. a query prefix on --model-dir)")
    parser.add_argument("--sweep", nargs="?", const="0.26:0.47:0.03", metavar="FROM:TO:STEP",
                        help="precision/abstention at floors FROM..TO (default 0.26:0.47:0.03)")
    parser.add_argument("--queries", type=Path, default=RESPONDER, help="with --variant given more than once: "
                        "another labelled set instead of the responder set (no off-topic questions), e.g. "
                        "bench/queries/prometheus-runbooks.jsonl")
    parser.add_argument("--model-dir", type=Path, help="an exported ONNX model directory for the offline embedder")
    args = parser.parse_args()
    ablate = {a for a in args.ablate.split(",") if a}
    if "vocabulary" in ablate:
        import knowledge.chunks

        knowledge.chunks.document_vocabulary = lambda doc: ""  # type: ignore[assignment]
    if "logs" in ablate:
        import knowledge.query

        knowledge.query.is_log_record = lambda record: False  # type: ignore[assignment]
        knowledge.query.looks_like_log = lambda text: False  # type: ignore[assignment]
    if "shapes" in ablate:
        import knowledge.query

        knowledge.query.normalize_line = lambda line: line  # type: ignore[assignment]
    work = Path(tempfile.mkdtemp(prefix="revenant-quality-"))
    try:
        kb = build_kb(work, args.embedder, args.mode, args.model_dir)
        if len(args.variant) > 1 or (args.compare and args.variant):
            compare(kb, args.variant, args.split, args.threshold or kb.relevance_floor or 0.38, args.queries)
            return
        if args.variant:
            from retrieval_variants import apply

            apply(kb, ORG, args.variant[0])
        if "documents" in ablate or "rrf" in ablate or args.alpha is not None:
            kb._searcher.params = FusionParams(  # noqa: SLF001
                document_ranks="documents" not in ablate, method="rrf" if "rrf" in ablate else "convex",
                alpha=args.alpha if args.alpha is not None else FusionParams().alpha)
        if args.tune:
            say("tuning on dev ...")
            kb._searcher.params = tune_fusion(kb, labelled("dev"))  # noqa: SLF001
            say(f"chosen {kb._searcher.params}")  # noqa: SLF001
        threshold = args.threshold if args.threshold is not None else kb.relevance_floor
        if threshold is None or args.tune:
            threshold = tune_threshold(kb, labelled("dev"), off_topic("dev"))
            say(f"floor chosen on dev: {threshold:.2f}")
        rep = report(kb, labelled(args.split), off_topic(args.split), threshold)
        if args.sweep:
            start, stop, step = (round(float(x) * 100) for x in args.sweep.split(":"))
            for floor in range(start, stop + 1, step):
                r = report(kb, labelled(args.split), off_topic(args.split), floor / 100)
                print(f"| {floor / 100:.2f} | {r['precision']:.3f} | {r['answered']:.3f} | {r['abstention']:.3f} |")
        if args.json:
            print(json.dumps(rep, indent=2))
        else:
            print_report(f"{args.embedder} / {args.mode} / {args.split} split", rep)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
