"""Retrieval benchmark (not a test): ingest rate, query latency at 20 orgs x 5,000 chunks, recall and MRR.

    .venv/bin/python bench/retrieval.py [--orgs 20] [--chunks 5000] [--queries-per-org 50] [--model-dir DIR]

--model-dir runs the scale part on another exported model (scripts/export_embedding_model.py --target), e.g. a
--random-layers stand-in: its ingest rate and latencies are that model's shape's, its search results mean nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.evaluation import EvalQuery, load_queries, score  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402
from knowledge.markdown import parse_markdown  # noqa: E402
from knowledge.models import EvalReport  # noqa: E402
from knowledge.query import build_search_text  # noqa: E402

DEMO = ROOT / "bot" / "demo_data"
CORPUS = ROOT / "bench" / "corpora" / "prometheus-runbooks"
PROM_QUERIES = ROOT / "bench" / "queries" / "prometheus-runbooks.jsonl"
SERVICES = ["billing", "ledger", "catalog", "search", "cart", "payments", "inventory", "shipping", "auth", "profile",
            "notifications", "pricing", "reviews", "media", "gateway", "reports", "fraud", "loyalty", "tax", "orders"]
NAMESPACES = ["prod", "shop", "core", "edge", "data", "batch", "platform", "payments"]


def say(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def shipped_documents() -> list[tuple[str, str]]:
    """(relative path, text) of every shipped runbook and postmortem."""
    return [(p.relative_to(DEMO).as_posix(), p.read_text()) for p in sorted(DEMO.rglob("*.md"))]


def vary(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    """A plausible variant of a runbook: other service and namespace, some sections dropped, a context note."""
    service, namespace = rng.choice(SERVICES), rng.choice(NAMESPACES)
    text = re.sub(r"\b(checkout|api-gateway|inventory|orders)\b", service, text)
    text = re.sub(r"-n (shop|api|data|jobs|batch)\b", f"-n {namespace}", text)
    text = re.sub(r"^# (.+)$", lambda m: f"# {m.group(1)} ({service})", text, count=1, flags=re.M)
    parts = re.split(r"(?m)^(?=## )", text)
    kept = [parts[0]] + [p for p in parts[1:] if rng.random() > 0.2]
    note = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(25, 70)))
    return "".join(kept) + f"\n## Context for {service}\n\nOwned by team-{rng.randint(1, 40)}. {note}.\n"


def synthesize(target: Path, chunks: int, seed: int) -> int:
    """Write Markdown variants under target until they hold at least `chunks` sections; returns the count."""
    rng = random.Random(seed)
    docs = shipped_documents()
    vocabulary = sorted({w for _, t in docs for w in re.findall(r"[a-z]{4,}", t.lower())})
    total, index = 0, 0
    while total < chunks:
        rel, text = docs[index % len(docs)]
        variant = vary(text, rng, vocabulary)
        sections = len(parse_markdown(variant).sections)
        path = target / f"v{index // len(docs):03d}" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(variant)
        total += sections
        index += 1
    return total


def query_pool() -> list[str | dict[str, Any]]:
    """The shipped queries (free text, logs, alert payloads) used to time searches."""
    return [q.query for q in load_queries(DEMO / "queries.jsonl")]


def timed_searches(kb: KnowledgeBase, org: str, items: list[str | dict[str, Any]]) -> list[float]:
    """Milliseconds per single search() call, query embedding included (warm: the lexical index is loaded)."""
    out = []
    for item in items:
        start = time.perf_counter()
        kb.search(org, item, k=5)
        out.append((time.perf_counter() - start) * 1000)
    return out


def load_scale(work: Path, orgs: int, chunks: int, per_org: int, embedder: Any = None) -> dict[str, float]:
    """Ingest `orgs` orgs of synthetic chunks, then time warm searches in every org (the shipped embedder unless
    one is given)."""
    kb = KnowledgeBase(data_dir=work / "scale-data", embedder=embedder)
    ingested, ingest_seconds, cold = 0, 0.0, []
    pool = query_pool()
    for n in range(orgs):
        tree = work / "scale-docs" / f"org-{n:02d}"
        synthesize(tree, chunks, seed=n)
        start = time.perf_counter()
        report = kb.ingest(tree, f"bench-org-{n:02d}")
        ingest_seconds += time.perf_counter() - start
        ingested += report.sections
        start = time.perf_counter()
        kb.search(f"bench-org-{n:02d}", "warm up", k=5)
        cold.append((time.perf_counter() - start) * 1000)
        say(f"  org {n + 1}/{orgs}: {report.sections} chunks, total {ingested / ingest_seconds:.0f} chunks/s, "
            f"first query {cold[-1]:.0f} ms")
    fresh = KnowledgeBase(data_dir=work / "scale-data", embedder=embedder)  # a new process's view: nothing loaded
    reload = []
    for n in range(orgs):
        start = time.perf_counter()
        fresh.search(f"bench-org-{n:02d}", "disk is full on the database host", k=5)
        reload.append((time.perf_counter() - start) * 1000)
    latencies: list[float] = []
    rng = random.Random(7)
    for n in range(orgs):
        picks = rng.sample(pool, per_org) if per_org <= len(pool) else (pool * (per_org // len(pool) + 1))[:per_org]
        latencies += timed_searches(fresh, f"bench-org-{n:02d}", picks)
    say(f"  {len(latencies)} warm searches done")
    return {
        "orgs": orgs, "chunks": ingested, "ingest_s": ingest_seconds, "rate": ingested / ingest_seconds,
        "p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
        "mean": statistics.fmean(latencies), "cold_p50": pct(cold, 50), "cold_max": max(cold),
        "reload_p50": pct(reload, 50), "reload_max": max(reload),
    }


def copy_corpus(target: Path) -> Path:
    """The prometheus-runbooks Markdown files (README excluded: it is not a runbook)."""
    for path in CORPUS.rglob("*.md"):
        if path.name != "README.md":
            dest = target / path.relative_to(CORPUS)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
    return target


def split_report(kb: KnowledgeBase, org: str, queries: list[EvalQuery], styles: dict[str, str]) -> dict[str, EvalReport]:
    """Reports for all queries, those that do not name the alert (symptom, log) and those that do."""
    results = kb.search_batch(org, [q.query for q in queries], 5)
    groups = {"all": lambda s: True, "not naming alert": lambda s: s in ("symptom", "log"),
              "naming alert": lambda s: s in ("alert", "named")}
    out = {}
    for name, keep in groups.items():
        idx = [i for i, q in enumerate(queries) if keep(styles.get(q.id, "symptom"))]
        out[name] = score([queries[i] for i in idx], [results[i] for i in idx], (1, 3, 5))
    return out


def quality(work: Path, modes: list[str]) -> list[tuple[str, str, EvalReport]]:
    """recall@k / MRR on the shipped set and (when the corpus is present) on prometheus-runbooks."""
    rows: list[tuple[str, str, EvalReport]] = []
    for mode in modes:
        kb = KnowledgeBase(data_dir=work / f"quality-{mode}", retrieval=mode)
        kb.ingest(DEMO, "shipped")
        rows.append((mode, "shipped set (demo runbooks)", kb.evaluate("shipped", DEMO / "queries.jsonl")))
        if not CORPUS.is_dir():
            continue
        corpus = copy_corpus(work / "corpus" / "prometheus-runbooks")
        kb.ingest(corpus, "prom")
        queries = load_queries(PROM_QUERIES)
        styles = {str(json.loads(line)["id"]): json.loads(line).get("style", "symptom")
                  for line in PROM_QUERIES.read_text().splitlines() if line.strip()}
        for name, report in split_report(kb, "prom", queries, styles).items():
            rows.append((mode, f"prometheus-runbooks, {name}", report))
        kb.ingest(DEMO, "mixed")
        kb.ingest(corpus, "mixed")
        rows.append((mode, "shipped set + 108 prometheus runbooks as distractors", kb.evaluate("mixed", DEMO / "queries.jsonl")))
    return rows


def embedder_speed(kind: str) -> dict[str, float]:
    """Embedder throughput on the shipped sections and single-query embedding time."""
    from knowledge.embeddings import make_embedder

    texts = [s.text for _, t in shipped_documents() for s in parse_markdown(t).sections] * 3
    embedder = make_embedder(kind)
    embedder.get_query_embedding("warm up")
    start = time.perf_counter()
    embedder.get_text_embedding_batch(texts)
    batch = time.perf_counter() - start
    queries = [build_search_text(q) for q in query_pool()]
    start = time.perf_counter()
    for q in queries:
        embedder.get_query_embedding(q)
    return {"texts_per_s": len(texts) / batch, "query_ms": (time.perf_counter() - start) / len(queries) * 1000}


def main() -> None:
    """Run the benchmark and print the results tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=5000)
    parser.add_argument("--queries-per-org", type=int, default=50)
    parser.add_argument("--modes", default="hybrid,vector,bm25", help="retrieval modes for the quality table")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--model-dir", type=Path, help="the scale part on another exported model (see above)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="revenant-bench-retrieval-"))
    try:
        if CORPUS.is_dir():
            say(f"prometheus-runbooks corpus: {CORPUS}")
        else:
            say(f"prometheus-runbooks corpus not found at {CORPUS}: skipping that query set")
        say("quality ...")
        rows = quality(work, [m for m in args.modes.split(",") if m])
        print("\n| retrieval | query set | n | recall@1 | recall@3 | recall@5 | MRR |\n|---|---|---|---|---|---|---|")
        for mode, name, r in rows:
            print(f"| {mode} | {name} | {r.n} | {r.recall[1]:.3f} | {r.recall[3]:.3f} | {r.recall[5]:.3f} | {r.mrr:.3f} |")
        print("\n| embedder | dimension | texts/s (batch) | query embedding |\n|---|---|---|---|")
        for name, dim, kind in (("shipped all-MiniLM-L6-v2 int8 (offline default)", 384, "offline"),
                                ("feature hashing (REVENANT_EMBEDDINGS=hashing)", 768, "hashing")):
            speed = embedder_speed(kind)
            print(f"| {name} | {dim} | {speed['texts_per_s']:.0f} | {speed['query_ms']:.2f} ms |")
        if args.skip_scale:
            return
        embedder = None
        if args.model_dir:
            from knowledge.embedder_onnx import OnnxMiniLMEmbedding

            embedder = OnnxMiniLMEmbedding(model_dir=args.model_dir, model_name=f"bench:{args.model_dir.name}")
        say(f"scale: {args.orgs} orgs x {args.chunks} chunks ({args.model_dir or 'shipped MiniLM'} embedder, "
            "embedded Chroma) ...")
        s = load_scale(work, args.orgs, args.chunks, args.queries_per_org, embedder)
        print("\n| metric | value |\n|---|---|")
        print(f"| orgs x chunks ingested | {s['orgs']} x ~{s['chunks'] / s['orgs']:.0f} = {s['chunks']:.0f} |")
        print(f"| ingest rate (parse + embed + Chroma write) | {s['rate']:.0f} chunks/s ({s['ingest_s']:.1f} s) |")
        print(f"| first query per org after its ingest (lexical index saved at ingest, no rebuild), p50 / max | "
              f"{s['cold_p50']:.0f} / {s['cold_max']:.0f} ms |")
        print(f"| first query per org in a fresh process (collection and lexical index loaded from disk), p50 / max | "
              f"{s['reload_p50']:.0f} / {s['reload_max']:.0f} ms |")
        print(f"| warm query latency p50 / p95 / p99 (mean) | {s['p50']:.1f} / {s['p95']:.1f} / {s['p99']:.1f} ms "
              f"({s['mean']:.1f}) |")
        print(f"| target query p95 < 50 ms | {'met' if s['p95'] < 50 else 'NOT met'} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
