"""Knowledge at many orgs (benchmark, not a test): memory, open files, cold/warm latency, ingest rate and disk
against the number of orgs, in one process.

    .venv/bin/python bench/many_orgs.py [--orgs 10000] [--chunks 100] [--checkpoints 100,1000,2500,5000,10000]
                                        [--embedder hashing|offline] [--file-limit 1024]
                                        [--real-orgs 50 | --real-orgs 0 (every org ingested for real)]
                                        [--data-dir DIR (kept; a later run with the same DIR resumes)]

Every org holds the same synthetic tree of about --chunks sections (variants of the shipped runbooks); at each
checkpoint the process reports its resident memory and open files, the data dir's size, the ingest rate,
cold searches (orgs not searched before: their collection and lexical index are loaded) and warm searches (50
orgs searched again), and any failed search.

How orgs are filled: the first --real-orgs orgs go through KnowledgeBase.ingest (parse, chunk, embed, write to
Chroma, build and save the lexical index); their rate is the "ingest sections/s" column. Every further org gets
the same content without redoing the per-org CPU work that only repeats itself (parsing and embedding the same
text): the first org's chunks (ids, vectors, metadata, text) are written into the org's own collection through
the same Chroma upserts an ingest makes, its version bumped, and the first org's lexical index saved under the
org's key at that version. What is on disk per org is what an ingest leaves there; the bench measures serving.
With --data-dir the data survives the run, and a later run resumes after the orgs already written.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrieval import pct, query_pool, say, synthesize  # noqa: E402

from knowledge.embeddings import make_embedder  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402
from knowledge.lexical import LexicalIndex  # noqa: E402


def rss_mb() -> float:
    """Resident set size of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_files() -> int:
    """File descriptors this process holds."""
    return len(os.listdir("/proc/self/fd"))


def disk_mb(path: Path) -> float:
    """Disk used under path in MB (du)."""
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=False).stdout
    return float(out.split()[0]) if out else float("nan")


def timed(kb: KnowledgeBase, org: str, query: object) -> tuple[float, bool]:
    """Milliseconds of one search and whether it failed."""
    start = time.perf_counter()
    try:
        kb.search(org, query, k=5)  # type: ignore[arg-type]
        ok = True
    except Exception as exc:  # noqa: BLE001 - counted
        say(f"  search failed for {org}: {type(exc).__name__}: {str(exc)[:160]}")
        ok = False
    return (time.perf_counter() - start) * 1000, ok


class OrgCopier:
    """Writes one org's indexed content into other orgs' collections as an ingest leaves it (see the docstring).

    Reaches into the knowledge base's store and lexical store: the product has no "copy an org" operation and
    should not grow one for a benchmark."""

    def __init__(self, kb: KnowledgeBase, template_org: str) -> None:
        self._store = kb._store  # noqa: SLF001 - see the class docstring
        self._lexical_store = kb._lexical  # noqa: SLF001
        col = self._store.collection(template_org)
        if col is None:
            raise SystemExit(f"the template org {template_org} holds nothing")
        self._rows = col.get(include=["embeddings", "metadatas", "documents"])  # type: ignore[list-item]
        self._lexical: LexicalIndex | None = self._lexical_store.get(col.name, self._store.version(col))
        if self._lexical is None:
            raise SystemExit(f"the template org {template_org} has no saved lexical index")
        self.sections = len(self._rows["ids"])

    def copy(self, org_id: str) -> None:
        """Give org_id the template's chunks and lexical index (its own collection, version and key)."""
        col = self._store.collection(org_id, create=True)
        assert col is not None
        rows, step = self._rows, self._store.max_batch()
        for start in range(0, len(rows["ids"]), step):
            end = start + step
            col.upsert(ids=rows["ids"][start:end], embeddings=rows["embeddings"][start:end],
                       metadatas=rows["metadatas"][start:end], documents=rows["documents"][start:end])
        self._store.bump_version(col)
        assert self._lexical is not None
        self._lexical_store.save(col.name, LexicalIndex(version=self._store.version(col), ids=self._lexical.ids,
                                                        meta=self._lexical.meta,
                                                        model=copy.deepcopy(self._lexical.model)))


def main() -> None:
    """Ingest orgs up to each checkpoint and measure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=10000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--checkpoints", default="100,1000,2500,5000,10000")
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--file-limit", type=int, default=1024)
    parser.add_argument("--cold", type=int, default=200, help="cold searches per checkpoint")
    parser.add_argument("--real-orgs", type=int, default=50,
                        help="orgs ingested for real (0: all); the others get the first org's content copied")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the data here (a rerun resumes)")
    parser.add_argument("--stop-filling-at", default=None, metavar="HH:MM",
                        help="UTC time after which no org is added: the orgs reached are measured, and the run ends")
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(args.file_limit, hard), hard))
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",") if int(c) <= args.orgs} | {args.orgs})
    keep = args.data_dir is not None
    work = Path(args.data_dir) if keep else Path(tempfile.mkdtemp(prefix="revenant-many-orgs-"))
    work.mkdir(parents=True, exist_ok=True)
    progress = work / "progress.json"
    try:
        tree = work / "tree"
        if not tree.exists():
            synthesize(tree, args.chunks, seed=1)
        kb = KnowledgeBase(data_dir=work / "data", embedder=make_embedder(args.embedder))
        pool = query_pool()
        rng = random.Random(3)
        searched: set[int] = set()
        failures = 0
        state = json.loads(progress.read_text()) if progress.exists() else {"done": 0, "sections": 0, "seconds": 0.0}
        done, ingested, ingest_s = int(state["done"]), int(state["sections"]), float(state["seconds"])
        copier: OrgCopier | None = None
        copied, copy_s = 0, 0.0
        real = args.real_orgs if args.real_orgs > 0 else args.orgs
        print(f"\nembedder {args.embedder}, open-file limit {args.file_limit}, {min(real, args.orgs)} orgs ingested "
              f"for real, the rest copied; resuming after {done} orgs\n" if done else
              f"\nembedder {args.embedder}, open-file limit {args.file_limit}, {min(real, args.orgs)} orgs ingested "
              "for real, the rest copied\n")
        print("| orgs | RSS MB | open files | disk MB | ingest sections/s | cold p50 / p95 ms | warm p50 / p95 ms | failed |")
        print("|---|---|---|---|---|---|---|---|")
        stop, stopped = None, False
        if args.stop_filling_at:
            hour, minute = (int(x) for x in args.stop_filling_at.split(":"))
            stop = datetime.now(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
        for checkpoint in checkpoints:
            while done < checkpoint:
                if stop is not None and datetime.now(UTC) >= stop:
                    say(f"  {args.stop_filling_at} UTC: filling stopped at {done} orgs")
                    stopped = True
                    break
                start = time.perf_counter()
                if done < real:
                    ingested += kb.ingest(tree, f"org-{done:05d}").sections
                    ingest_s += time.perf_counter() - start
                else:
                    copier = copier or OrgCopier(kb, "org-00000")
                    copier.copy(f"org-{done:05d}")
                    copied += copier.sections
                    copy_s += time.perf_counter() - start
                done += 1
                if done % 100 == 0:
                    progress.write_text(json.dumps({"done": done, "sections": ingested, "seconds": ingest_s}))
                if done % 500 == 0:
                    rate = f", copied {copied / copy_s:.0f} sections/s" if copy_s else ""
                    say(f"  {done} orgs, ingest {ingested / max(ingest_s, 1e-9):.0f} sections/s{rate}, "
                        f"RSS {rss_mb():.0f} MB, {open_files()} files, load {os.getloadavg()[0]:.1f}")
            progress.write_text(json.dumps({"done": done, "sections": ingested, "seconds": ingest_s}))
            cold_orgs = [n for n in rng.sample(range(done), min(args.cold, done)) if n not in searched]
            cold: list[float] = []
            for n in cold_orgs:
                ms, ok = timed(kb, f"org-{n:05d}", rng.choice(pool))
                cold.append(ms)
                failures += 0 if ok else 1
                searched.add(n)
            hot = rng.sample(range(done), min(50, done))
            for n in hot:
                timed(kb, f"org-{n:05d}", "warm up")
            warm: list[float] = []
            for _ in range(3):
                for n in hot:
                    ms, ok = timed(kb, f"org-{n:05d}", rng.choice(pool))
                    warm.append(ms)
                    failures += 0 if ok else 1
            print(f"| {done} | {rss_mb():.0f} | {open_files()} | {disk_mb(work / 'data'):.0f} | "
                  f"{ingested / max(ingest_s, 1e-9):.0f} | {pct(cold, 50):.1f} / {pct(cold, 95):.1f} | "
                  f"{pct(warm, 50):.1f} / {pct(warm, 95):.1f} | {failures} |", flush=True)
            say(f"  load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
            if stopped:
                break
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
