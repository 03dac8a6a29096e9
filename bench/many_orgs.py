"""Knowledge at many orgs (benchmark, not a test): memory, open files, cold/warm latency, ingest rate and disk
against the number of orgs, in one process.

    .venv/bin/python bench/many_orgs.py [--orgs 10000] [--chunks 100] [--checkpoints 100,1000,2500,5000,10000]
                                        [--embedder hashing|offline] [--file-limit 1024]

Every org ingests the same synthetic tree of about --chunks sections (variants of the shipped runbooks); at each
checkpoint the process reports its resident memory and open files, the data dir's size, the ingest rate so far,
cold searches (orgs not searched before: their collection and lexical index are loaded) and warm searches (50
orgs searched again), and any failed search.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrieval import pct, query_pool, say, synthesize  # noqa: E402

from knowledge.embeddings import make_embedder  # noqa: E402
from knowledge.kb import KnowledgeBase  # noqa: E402


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


def main() -> None:
    """Ingest orgs up to each checkpoint and measure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=10000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--checkpoints", default="100,1000,2500,5000,10000")
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--file-limit", type=int, default=1024)
    parser.add_argument("--cold", type=int, default=200, help="cold searches per checkpoint")
    args = parser.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(args.file_limit, hard), hard))
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",") if int(c) <= args.orgs} | {args.orgs})
    work = Path(tempfile.mkdtemp(prefix="revenant-many-orgs-"))
    try:
        tree = work / "tree"
        sections = synthesize(tree, args.chunks, seed=1)
        kb = KnowledgeBase(data_dir=work / "data", embedder=make_embedder(args.embedder))
        pool = query_pool()
        rng = random.Random(3)
        searched: set[int] = set()
        failures = 0
        ingested, ingest_s = 0, 0.0
        print(f"\n{sections} sections per org, embedder {args.embedder}, open-file limit {args.file_limit}\n")
        print("| orgs | RSS MB | open files | disk MB | ingest sections/s | cold p50 / p95 ms | warm p50 / p95 ms | failed |")
        print("|---|---|---|---|---|---|---|---|")
        done = 0
        for checkpoint in checkpoints:
            while done < checkpoint:
                start = time.perf_counter()
                report = kb.ingest(tree, f"org-{done:05d}")
                ingest_s += time.perf_counter() - start
                ingested += report.sections
                done += 1
                if done % 500 == 0:
                    say(f"  {done} orgs, {ingested / ingest_s:.0f} sections/s, RSS {rss_mb():.0f} MB, {open_files()} files")
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
                  f"{ingested / ingest_s:.0f} | {pct(cold, 50):.1f} / {pct(cold, 95):.1f} | "
                  f"{pct(warm, 50):.1f} / {pct(warm, 95):.1f} | {failures} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
