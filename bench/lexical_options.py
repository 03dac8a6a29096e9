"""Where the lexical index should live (benchmark, not a test): bm25s saved per org vs PostgreSQL full-text
search under row-level security vs Chroma's own document filter, on the responder set.

    .venv/bin/python bench/lexical_options.py [--split test]

Each option is measured as the lexical side alone and fused with the same vector list (document-rank RRF,
k = 30, as the product does): recall@3 and MRR, latency per query, and what it holds in memory or on disk.
PostgreSQL runs on the benchmark server (REVENANT_BENCH_POSTGRES_URL) in a scratch database, queried as the
application role with the org bound, as the product's tenant tables are.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from common import ADMIN_URL, pct, say  # noqa: E402
from llama_index.core.schema import MetadataMode  # noqa: E402
from retrieval_quality import ORG, build_kb, labelled  # noqa: E402

from knowledge.embeddings import tokenize  # noqa: E402
from knowledge.evaluation import first_relevant_rank  # noqa: E402
from knowledge.query import build_search_text  # noqa: E402

K = 30.0


def doc_ranked(sources: list[str]) -> list[str]:
    """Document paths in first-appearance order."""
    seen: dict[str, None] = {}
    for s in sources:
        seen.setdefault(s.split("#")[0], None)
    return list(seen)


def fuse(a: list[str], b: list[str]) -> list[str]:
    """Document-rank RRF of two document lists."""
    score: dict[str, float] = {}
    for lst in (a, b):
        for rank, doc in enumerate(lst):
            score[doc] = score.get(doc, 0.0) + 1.0 / (K + rank + 1)
    return sorted(score, key=lambda d: -score[d])


def quality(ranked: list[list[str]], expected: list[tuple[str, ...]]) -> tuple[float, float]:
    """recall@3 and MRR of document lists."""
    r3 = mrr = 0.0
    for docs, exp in zip(ranked, expected, strict=True):
        rank = first_relevant_rank(docs, exp)
        r3 += 1.0 if rank is not None and rank <= 3 else 0.0
        mrr += 1.0 / rank if rank else 0.0
    return r3 / len(ranked), mrr / len(ranked)


def words(text: str) -> list[str]:
    """Plain words of a query for full-text engines (stop words dropped, at least 3 letters, at most 24)."""
    return list(dict.fromkeys(w for w in tokenize(text) if len(w) >= 3 and w.isalnum()))[:24]


def timed(fn: Callable[[str], list[str]], texts: list[str]) -> tuple[list[list[str]], list[float]]:
    """Run fn over texts; results and milliseconds per call."""
    out, ms = [], []
    for t in texts:
        start = time.perf_counter()
        out.append(fn(t))
        ms.append((time.perf_counter() - start) * 1000)
    return out, ms


def main() -> None:
    """Measure the three options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="revenant-lexical-"))
    try:
        kb = build_kb(work, "offline", "hybrid")
        searcher, store, lexical = kb._searcher, kb._store, kb._lexical  # noqa: SLF001 - measuring internals
        col = store.collection(ORG)
        assert col is not None
        queries = labelled(args.split)
        texts = [build_search_text(q.query.query) for q in queries]
        expected = [q.query.expected for q in queries]
        vectors = np.asarray(kb.embedder.get_text_embedding_batch(texts), dtype=np.float32)
        vec_lists = []
        for v in vectors:
            got = col.query(query_embeddings=[v], n_results=40, include=["metadatas"])  # type: ignore[list-item]
            vec_lists.append(doc_ranked([str(m["source"]) for m in (got["metadatas"] or [[]])[0]]))
        nodes = store.nodes(col)
        source_of = {n.node_id: str(n.metadata["source"]) for n in nodes}
        rows = []

        # 1. bm25s, saved per org and loaded on a miss
        lexical.forget(col.name)
        searcher.refresh_lexical(col)
        lexical._loaded.clear()  # noqa: SLF001 - time a load from disk
        lexical._bytes = 0  # noqa: SLF001
        start = time.perf_counter()
        index = lexical.get(col.name, store.version(col))
        load_ms = (time.perf_counter() - start) * 1000
        assert index is not None
        disk = sum(p.stat().st_size for p in (work / f"kb-offline-hybrid/lexical/{col.name}").rglob("*") if p.is_file())
        bm25_lists, bm25_ms = timed(
            lambda t: doc_ranked([source_of[i] for i, _ in index.top(lexical.analyzer.tokens(t), 40, None)]), texts)
        rows.append(("bm25s per org (saved at ingest, loaded on a miss)", bm25_lists, bm25_ms,
                     f"{index.nbytes / 1e6:.2f} MB in memory, {disk / 1e6:.2f} MB on disk, load {load_ms:.1f} ms"))

        # 2. Chroma's own document filter, ranked by the vector within the matches
        def chroma(t: str) -> list[str]:
            ws = words(t)
            if not ws:
                return []
            flt = {"$contains": ws[0]} if len(ws) == 1 else {"$or": [{"$contains": w} for w in ws]}
            v = np.asarray(kb.embedder.get_text_embedding(t), dtype=np.float32)
            got = col.query(query_embeddings=[v], n_results=40, where_document=flt,  # type: ignore[arg-type]
                            include=["metadatas"])  # type: ignore[list-item]
            return doc_ranked([str(m["source"]) for m in (got["metadatas"] or [[]])[0]])

        chroma_lists, chroma_ms = timed(chroma, texts)
        rows.append(("Chroma where_document $contains (OR of the query words), ranked by vector", chroma_lists,
                     chroma_ms, "nothing beyond Chroma's own full-text index (SQLite FTS5, trigram)"))

        # 3. PostgreSQL full-text search under row-level security
        from storage.engine import make_engine
        from storage.rls import enable_rls
        from storage.scratch import scratch_database

        with scratch_database(ADMIN_URL, "bench_fts") as url:
            owner = make_engine(url, app_role=None)
            with owner.begin() as conn:
                conn.execute(sa.text(
                    "CREATE TABLE kb_chunks (org_id varchar(64) NOT NULL, id text NOT NULL, source text NOT NULL, "
                    "body text NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED, "
                    "PRIMARY KEY (org_id, id))"))
                conn.execute(sa.text("CREATE INDEX kb_chunks_tsv ON kb_chunks USING gin (tsv)"))
                enable_rls(conn, "revenant_app", ("kb_chunks",))
                conn.execute(sa.text("INSERT INTO kb_chunks (org_id, id, source, body) VALUES (:o, :i, :s, :b)"), [
                    {"o": ORG, "i": n.node_id, "s": source_of[n.node_id],
                     "b": n.get_content(metadata_mode=MetadataMode.EMBED)} for n in nodes])
                size = conn.execute(sa.text("SELECT pg_total_relation_size('kb_chunks')")).scalar_one()
            app_engine = make_engine(url, app_role="revenant_app")
            query = sa.text(
                "SELECT source FROM kb_chunks, to_tsquery('english', :q) q WHERE tsv @@ q "
                "ORDER BY ts_rank_cd(tsv, q, 1) DESC LIMIT 40")

            def postgres(t: str) -> list[str]:
                ws = words(t)
                if not ws:
                    return []
                with app_engine.begin() as conn:
                    conn.execute(sa.text("SELECT set_config('app.org_id', :o, true)"), {"o": ORG})
                    found = conn.execute(query, {"q": " | ".join(re.sub(r"\W", "", w) for w in ws)}).scalars()
                    return doc_ranked(list(found))

            pg_lists, pg_ms = timed(postgres, texts)
            rows.append(("PostgreSQL to_tsvector/ts_rank_cd under RLS (GIN index), OR of the query words", pg_lists,
                         pg_ms, f"{size / 1e6:.2f} MB in the database (table + GIN index), one round trip"))
            app_engine.dispose()
            owner.dispose()

        r3, mrr = quality(vec_lists, expected)
        print(f"\n{len(queries)} queries ({args.split} split); vector side alone: recall@3 {r3:.3f}, MRR {mrr:.3f}\n")
        print("| lexical option | alone: recall@3 / MRR | fused with vectors: recall@3 / MRR | latency p50 / p95 | "
              "memory and storage |\n|---|---|---|---|---|")
        for name, lists, ms, memory in rows:
            alone = quality(lists, expected)
            fused = quality([fuse(v, lex) for v, lex in zip(vec_lists, lists, strict=True)], expected)
            print(f"| {name} | {alone[0]:.3f} / {alone[1]:.3f} | {fused[0]:.3f} / {fused[1]:.3f} | "
                  f"{pct(ms, 50):.1f} / {pct(ms, 95):.1f} ms | {memory} |")
        say(f"mean latencies: {[round(statistics.fmean(r[2]), 1) for r in rows]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
