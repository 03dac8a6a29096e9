"""Embedding cost per text (benchmark, not a test): CPU per query and per ingested section for exported models.

    .venv/bin/python bench/embedding_cost.py [--model-dir DIR ...] [--rounds 3] [--sections 0]

The shipped all-MiniLM-L6-v2 is measured first, then each --model-dir (scripts/export_embedding_model.py --target
writes them, e.g. a --random-layers stand-in whose weights are random: its cost is an N-layer model's, its
vectors mean nothing), round after round so that the machine's load falls on every model alike. Each text is
embedded alone, as the product embeds a query, on one onnxruntime thread; the CPU time is the calling thread's
(time.thread_time), so other processes on a shared machine do not count, and wall time is printed beside it.

Texts: the queries are the responder set and the off-topic questions as the query builder turns them into search
text (bench/queries); the sections are the embedded text of every section of the two corpora of
bench/retrieval_quality.py, as ingestion builds it (title, section path, aliases, vocabulary, text).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.embedder_onnx import MODEL_DIR, OnnxMiniLMEmbedding  # noqa: E402
from knowledge.query import build_search_text  # noqa: E402

DEMO = ROOT / "bot" / "demo_data"
CORPUS = ROOT / "bench" / "corpora" / "prometheus-runbooks"
QUERY_FILES = [ROOT / "bench" / "queries" / "responder.jsonl", ROOT / "bench" / "queries" / "off-topic.jsonl"]


def query_texts() -> list[str]:
    """The responder set's and the off-topic questions' search texts."""
    rows = [json.loads(line) for path in QUERY_FILES for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [build_search_text(row["query"]) for row in rows]


def section_texts() -> list[str]:
    """The embedded text of every section of both corpora, as ingestion builds it."""
    from llama_index.core.schema import MetadataMode

    from knowledge.chunks import DocumentInfo, build_nodes, content_hash
    from knowledge.markdown import parse_markdown

    paths = [p for p in sorted(CORPUS.rglob("*.md")) if p.name != "README.md"]
    paths += [p for sub in ("runbooks", "postmortems") for p in sorted((DEMO / sub).glob("*.md"))]
    texts: list[str] = []
    for path in paths:
        raw = path.read_text(encoding="utf-8")
        info = DocumentInfo(path=path.name, root="", project="", content_hash=content_hash(raw))
        nodes = build_nodes(parse_markdown(raw, default_title=path.stem), info)
        texts.extend(node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes)
    return texts


def timed(model: OnnxMiniLMEmbedding, texts: list[str]) -> tuple[list[float], list[float]]:
    """CPU and wall milliseconds of embedding each text alone."""
    cpu, wall = [], []
    for text in texts:
        c0, w0 = time.thread_time(), time.perf_counter()
        model.embed_many([text])
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return cpu, wall


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    """Measure every model round after round and print one table row each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, action="append", default=[], help="an exported model directory")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sections", type=int, default=0, help="embed only the first N sections (0: all; -1: none)")
    parser.add_argument("--query-prefix", default="", help="prepended to every query of the --model-dir models (an "
                        "instruction such as BGE's), not to the shipped model's")
    args = parser.parse_args()
    models = {"shipped": OnnxMiniLMEmbedding()}
    models.update({d.name: OnnxMiniLMEmbedding(model_dir=d, model_name=f"bench:{d.name}") for d in args.model_dir})
    queries, sections = query_texts(), section_texts()
    sections = sections[: max(args.sections, 0)] if args.sections else sections
    tokenizer = models["shipped"].load().tokenizer
    tokens = [len(e.ids) for e in tokenizer.encode_batch(sections or ["."])]
    print(f"{len(queries)} queries (mean {statistics.mean(len(tokenizer.encode(q).ids) for q in queries):.1f} tokens"
          f"; the prefix adds {len(tokenizer.encode(args.query_prefix).ids) - 2}), {len(sections)} sections (mean "
          f"{statistics.mean(tokens):.0f} tokens, {sum(t >= 256 for t in tokens)} truncated at 256), {args.rounds} "
          "rounds", file=sys.stderr)
    for model in models.values():
        model.embed_many(queries[:5])  # load and warm up outside the measurement
    got: dict[str, dict[str, list[float]]] = {n: {"qc": [], "qw": [], "sc": [], "sw": []} for n in models}
    for round_no in range(args.rounds):
        for name, model in models.items():
            qc, qw = timed(model, queries if name == "shipped" else [args.query_prefix + q for q in queries])
            sc, sw = timed(model, sections) if sections else ([0.0], [0.0])
            for key, values in (("qc", qc), ("qw", qw), ("sc", sc), ("sw", sw)):
                got[name][key].extend(values)
            print(f"round {round_no + 1} {name}: query CPU mean {statistics.mean(qc):.2f} ms, section CPU mean "
                  f"{statistics.mean(sc):.2f} ms", file=sys.stderr)
    print("| model | query CPU p50 / p95 / mean ms | query wall p50 / p95 ms | section CPU mean ms | "
          "sections/s per core (CPU) | section wall mean ms |")
    print("|---|---|---|---|---|---|")
    for name, m in got.items():
        print(f"| {name} | {pct(m['qc'], 50):.2f} / {pct(m['qc'], 95):.2f} / {statistics.mean(m['qc']):.2f} | "
              f"{pct(m['qw'], 50):.2f} / {pct(m['qw'], 95):.2f} | {statistics.mean(m['sc']):.2f} | "
              f"{1000 / statistics.mean(m['sc']) if sections else 0:.0f} | {statistics.mean(m['sw']):.2f} |")
    print(f"(shipped model: {MODEL_DIR})", file=sys.stderr)


if __name__ == "__main__":
    main()
