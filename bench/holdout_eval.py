#!/usr/bin/env python3
"""Holdout retrieval evaluation through the public CLI only.

Ingests the runbook roots into a throwaway org in ``--data-dir`` with
``revenant knowledge ingest``, runs every query of the holdout set through
``revenant knowledge search --json --batch``, and scores the JSON it prints.
Standard library only; it never imports the application's packages, so it
measures exactly what a CLI user sees.

Scoring (per query type and for all on-topic queries together):

- a result is a hit when its ``source`` starts with one of the query's
  ``expected`` paths (paths are relative to the ingested root they came from);
- R@k: share of queries with at least one hit among the first k results;
- MRR@3: mean of 1/rank of the first hit within the first 3 results (0 if none);
- files@5: share of a query's expected files that appear in the first 5
  results, averaged over queries (how much of the acceptable set is surfaced).

Off-topic queries (``expected == []``) are scored by abstention. The CLI JSON
has no explicit abstain or low-confidence field: each result carries
``source, score, similarity, text, title, section, path, kind, ...``. The
rule used for the headline number is therefore the only explicit signal the
contract offers: a query *abstains* when its ``results`` list is empty. Since
the output gained a per-result ``relevant`` field (similarity at or above the
embedder's calibrated floor; the shape is otherwise unchanged), a second rule is
reported too: a query abstains when none of its results is ``relevant``. As a
diagnostic (not a tuned operating point), the script also shows what a
client-side cut-off on the top result's ``similarity`` field would do: for
each threshold t, the share of off-topic queries whose top similarity is < t
(they would be suppressed) and the share of on-topic queries that would be
wrongly suppressed.

Example:

    python3 bench/holdout_eval.py --data-dir "$(mktemp -d)"
    REVENANT_EMBEDDINGS=hashing python3 bench/holdout_eval.py --data-dir "$(mktemp -d)"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_QUERIES = REPO / "bench" / "queries" / "holdout" / "holdout.jsonl"
DEFAULT_ROOTS = [
    REPO / "bench" / "corpora" / "prometheus-runbooks",
    REPO / "bot" / "demo_data" / "runbooks",
]
TYPES = ["symptom", "log", "alert"]
THRESHOLDS = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]


def run_cli(cli: str, args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([cli, *args], env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.stderr.write(f"command failed ({proc.returncode}): {cli} {' '.join(args)}\n{proc.stdout}\n{proc.stderr}\n")
        raise SystemExit(2)
    return proc


def load_queries(path: Path) -> list[dict]:
    rows = []
    with path.open() as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            for key in ("id", "type", "query", "expected"):
                if key not in row:
                    raise SystemExit(f"{path}:{n}: missing {key!r}")
            rows.append(row)
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"{path}: duplicate ids")
    return rows


def first_hit_rank(results: list[dict], expected: list[str], k: int) -> int | None:
    for rank, res in enumerate(results[:k], 1):
        src = res.get("source") or ""
        if any(src.startswith(e) for e in expected):
            return rank
    return None


def files_found(results: list[dict], expected: list[str], k: int) -> float:
    if not expected:
        return 0.0
    found = {e for e in expected for res in results[:k] if (res.get("source") or "").startswith(e)}
    return len(found) / len(expected)


def top_similarity(results: list[dict]) -> float | None:
    if not results:
        return None
    sim = results[0].get("similarity")
    return float(sim) if isinstance(sim, (int, float)) else None


def answers(results: list[dict]) -> bool | None:
    """Whether the CLI marks any result of a query `relevant` (None: the field is absent or null)."""
    flags = [r.get("relevant") for r in results]
    if not flags or any(f is None for f in flags):
        return None
    return any(flags)


def relevance_flag_scores(on: list[dict], off: list[dict], results: dict[str, list[dict]]) -> dict | None:
    """Abstention by the CLI's own per-hit `relevant` field (added to the output, shape unchanged): a query
    abstains when none of its results is relevant. Also the on-topic queries it silences and the precision of
    the top result over the queries it answers (an answered off-topic query counts as wrong)."""
    flags_on = [answers(results[r["id"]]) for r in on]
    flags_off = [answers(results[r["id"]]) for r in off]
    if any(f is None for f in flags_on + flags_off):
        return None
    right = sum(1 for r, f in zip(on, flags_on, strict=True) if f and first_hit_rank(results[r["id"]], r["expected"], 1))
    answered = sum(1 for f in flags_on if f) + sum(1 for f in flags_off if f)
    return {
        "offtopic_abstained": sum(1 for f in flags_off if not f),
        "ontopic_abstained": sum(1 for f in flags_on if not f),
        "ontopic_R@3_answered": sum(
            1 for r, f in zip(on, flags_on, strict=True) if f and first_hit_rank(results[r["id"]], r["expected"], 3)
        ) / max(1, len(on)),
        "top1_precision": right / max(1, answered),
    }


def short(query, width: int = 150) -> str:
    text = query if isinstance(query, str) else json.dumps(query, separators=(",", ":"))
    text = text.replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def score(rows: list[dict], results: dict[str, list[dict]]) -> dict:
    per_type: dict[str, dict] = {}
    groups = {t: [r for r in rows if r["type"] == t] for t in TYPES}
    groups["on-topic"] = [r for r in rows if r["expected"]]
    for name, grp in groups.items():
        if not grp:
            continue
        ranks = [first_hit_rank(results[r["id"]], r["expected"], 5) for r in grp]
        n = len(grp)
        per_type[name] = {
            "n": n,
            "R@1": sum(1 for x in ranks if x is not None and x <= 1) / n,
            "R@3": sum(1 for x in ranks if x is not None and x <= 3) / n,
            "R@5": sum(1 for x in ranks if x is not None) / n,
            "MRR@3": sum(1.0 / x for x in ranks if x is not None and x <= 3) / n,
            "files@5": sum(files_found(results[r["id"]], r["expected"], 5) for r in grp) / n,
        }
    off = [r for r in rows if not r["expected"]]
    on = groups["on-topic"]
    abst = {
        "n": len(off),
        "abstained_empty": sum(1 for r in off if not results[r["id"]]),
        "ontopic_empty": sum(1 for r in on if not results[r["id"]]),
    }
    abst["relevance_flag"] = relevance_flag_scores(on, off, results)
    sims_on = [top_similarity(results[r["id"]]) for r in on]
    sims_off = [top_similarity(results[r["id"]]) for r in off]
    sweep = []
    if all(s is not None for s in sims_on + sims_off if results):
        for t in THRESHOLDS:
            off_cut = sum(1 for s in sims_off if s is None or s < t)
            on_cut = sum(1 for s in sims_on if s is None or s < t)
            on_kept_hit = sum(
                1
                for r, s in zip(on, sims_on, strict=True)
                if s is not None and s >= t and first_hit_rank(results[r["id"]], r["expected"], 5) is not None
            )
            sweep.append({"t": t, "offtopic_suppressed": off_cut, "ontopic_suppressed": on_cut, "ontopic_R@5_kept": on_kept_hit})
    abst["sweep"] = sweep
    abst["top_similarity_offtopic"] = sorted(s for s in sims_off if s is not None)
    abst["top_similarity_ontopic"] = sorted(s for s in sims_on if s is not None)
    return {"per_type": per_type, "abstention": abst}


def quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    v = sorted(values)

    def q(p: float) -> float:
        return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]

    return f"min {v[0]:.3f}  p10 {q(0.1):.3f}  median {q(0.5):.3f}  p90 {q(0.9):.3f}  max {v[-1]:.3f}"


def misses(rows: list[dict], results: dict[str, list[dict]]) -> list[dict]:
    out = []
    for r in rows:
        if not r["expected"]:
            continue
        res = results[r["id"]]
        rank = first_hit_rank(res, r["expected"], 5)
        if rank is not None and rank <= 3:
            continue
        out.append(
            {
                "id": r["id"],
                "type": r["type"],
                "query": r["query"],
                "expected": r["expected"],
                "top3": [x.get("source") for x in res[:3]],
                "rank": rank,
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, help="REVENANT_DATA_DIR for the throwaway org (created if missing)")
    ap.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    ap.add_argument("--root", type=Path, action="append", help="runbook root to ingest (repeatable; default: the prometheus-runbooks corpus and bot/demo_data/runbooks)")
    ap.add_argument("--org", default="evalorg")
    ap.add_argument("--cli", default=str(REPO / ".venv" / "bin" / "revenant"))
    ap.add_argument("--embeddings", help="set REVENANT_EMBEDDINGS for ingest and search (default: inherit the environment)")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--save-results", type=Path, help="write the raw CLI batch output (JSONL) here")
    ap.add_argument("--save-report", type=Path, help="write metrics and misses as JSON here")
    args = ap.parse_args()

    env = dict(os.environ)
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env["REVENANT_DATA_DIR"] = str(data_dir)
    if args.embeddings:
        env["REVENANT_EMBEDDINGS"] = args.embeddings
    embedder = env.get("REVENANT_EMBEDDINGS", "(default)")
    roots = [p.resolve() for p in (args.root or DEFAULT_ROOTS)]
    rows = load_queries(args.queries)

    created = run_cli(args.cli, ["org", "create", args.org, "--json"], env, check=False)
    if created.returncode != 0 and "already exists" not in (created.stdout + created.stderr):
        sys.stderr.write(created.stdout + created.stderr)
        raise SystemExit(2)
    t0 = time.monotonic()
    for root in roots:
        out = run_cli(args.cli, ["knowledge", "ingest", str(root), "--org", args.org], env)
        print(out.stdout.strip())
    t_ingest = time.monotonic() - t0

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for r in rows:
            fh.write(json.dumps({"id": r["id"], "query": r["query"]}) + "\n")
        batch = fh.name
    t0 = time.monotonic()
    try:
        out = run_cli(args.cli, ["knowledge", "search", "--org", args.org, "--json", "-k", str(args.k), "--batch", batch], env)
    finally:
        os.unlink(batch)
    t_search = time.monotonic() - t0
    results: dict[str, list[dict]] = {}
    for line in out.stdout.splitlines():
        line = line.strip()
        if line:
            obj = json.loads(line)
            results[obj["id"]] = obj.get("results") or []
    missing = [r["id"] for r in rows if r["id"] not in results]
    if missing:
        raise SystemExit(f"no output for {len(missing)} queries, e.g. {missing[:5]}")
    if args.save_results:
        args.save_results.write_text(out.stdout)

    rep = score(rows, results)
    miss = misses(rows, results)

    print()
    print(f"embedder: REVENANT_EMBEDDINGS={embedder}   queries: {args.queries.relative_to(REPO) if args.queries.is_relative_to(REPO) else args.queries} ({len(rows)})   k={args.k}")
    print(f"roots: {', '.join(str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in roots)}")
    print(f"ingest {t_ingest:.1f}s, batch search {t_search:.1f}s")
    print()
    print(f"{'type':<10} {'n':>4} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'MRR@3':>6} {'files@5':>8}")
    for name, m in rep["per_type"].items():
        print(f"{name:<10} {m['n']:>4} {m['R@1']:>6.3f} {m['R@3']:>6.3f} {m['R@5']:>6.3f} {m['MRR@3']:>6.3f} {m['files@5']:>8.3f}")
    a = rep["abstention"]
    print()
    print(f"off-topic  {a['n']:>4}  abstained (empty results): {a['abstained_empty']}/{a['n']} = {a['abstained_empty'] / max(1, a['n']):.3f}"
          f"   (on-topic queries with empty results: {a['ontopic_empty']})")
    flag = a["relevance_flag"]
    if flag is not None:
        n_on = rep["per_type"]["on-topic"]["n"]
        print(f"off-topic  {a['n']:>4}  abstained (no result marked relevant): {flag['offtopic_abstained']}/{a['n']} = "
              f"{flag['offtopic_abstained'] / max(1, a['n']):.3f}   on-topic silenced: {flag['ontopic_abstained']}/{n_on}, "
              f"on-topic R@3 when answered: {flag['ontopic_R@3_answered']:.3f}, top-1 precision: {flag['top1_precision']:.3f}")
    print(f"top-1 similarity, off-topic: {quantiles(a['top_similarity_offtopic'])}")
    print(f"top-1 similarity, on-topic:  {quantiles(a['top_similarity_ontopic'])}")
    if a["sweep"]:
        n_on = rep["per_type"]["on-topic"]["n"]
        print("diagnostic only: suppress when top-1 similarity < t")
        print(f"  {'t':>5} {'off-topic suppressed':>21} {'on-topic suppressed':>20} {'on-topic R@5 kept':>18}")
        for s in a["sweep"]:
            print(f"  {s['t']:>5.2f} {s['offtopic_suppressed']:>10}/{a['n']:<3} ({s['offtopic_suppressed'] / max(1, a['n']):.2f})"
                  f" {s['ontopic_suppressed']:>9}/{n_on:<3} ({s['ontopic_suppressed'] / max(1, n_on):.2f})"
                  f" {s['ontopic_R@5_kept'] / max(1, n_on):>12.3f}")
    print()
    print(f"misses (no expected file in the top 3): {len(miss)}")
    for m in miss:
        where = f"rank {m['rank']}" if m["rank"] else "not in top 5"
        print(f"- {m['id']} [{where}] {short(m['query'])}")
        print(f"    expected: {', '.join(m['expected'])}")
        print(f"    top 3:    {', '.join(s or '-' for s in m['top3']) or '(no results)'}")
    off_kept = [r for r in rows if not r["expected"] and results[r["id"]]]
    if off_kept:
        print()
        print(f"off-topic queries answered instead of abstaining: {len(off_kept)}")
        for r in off_kept:
            res = results[r["id"]]
            sim = top_similarity(res)
            print(f"- {r['id']} top-1 sim {sim if sim is not None else '-'}: {short(r['query'], 80)} -> {res[0].get('source')}")

    if args.save_report:
        args.save_report.write_text(
            json.dumps(
                {
                    "embedder": embedder,
                    "queries": len(rows),
                    "ingest_seconds": round(t_ingest, 1),
                    "search_seconds": round(t_search, 1),
                    **rep,
                    "misses": miss,
                    "offtopic_top1": {r["id"]: (results[r["id"]][0].get("source") if results[r["id"]] else None) for r in rows if not r["expected"]},
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
