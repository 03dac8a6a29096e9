"""The fine-tuning pairs (scripts/finetune_embedding_model.py): only the corpus's own text, never an evaluation
query; held-out documents give no pairs; batches never hold two pairs of one document."""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from knowledge.embedder_onnx import MODEL_DIR, verify
from knowledge.models import KnowledgeError
from tests.knowledge.script_modules import load_script

ROOT = Path(__file__).resolve().parents[2]


def finetune_script() -> ModuleType:
    """The script as a module (it is not a package)."""
    return load_script("finetune_embedding_model")


def evaluation_texts() -> set[str]:
    """Every query of every evaluation set in the repository, normalised."""
    files = [*(ROOT / "bench" / "queries").rglob("*.jsonl"), *(ROOT / "bench" / "corpora").rglob("queries.jsonl")]
    texts = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.add(" ".join(str(json.loads(line).get("query", "")).lower().split()))
    return texts - {""}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], list[str]]:
    out = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    finetune_script().make_pairs(argparse.Namespace(out=out, hold_out=0.2))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, json.loads(Path(f"{out}.heldout.json").read_text(encoding="utf-8"))


def test_pairs_never_contain_an_evaluation_query(pairs: tuple[list[dict[str, str]], list[str]]) -> None:
    rows, _ = pairs
    queries = evaluation_texts()
    assert len(queries) > 300 and len(rows) > 1000
    for row in rows:
        assert " ".join(row["anchor"].lower().split()) not in queries, row


def test_held_out_documents_give_no_pairs(pairs: tuple[list[dict[str, str]], list[str]]) -> None:
    rows, held = pairs
    docs = {row["doc"] for row in rows}
    assert len(held) == 27 and not docs & set(held)
    assert "kubernetes/KubePodCrashLooping.md" in docs | set(held) and "runbooks/oom-killed.md" in docs | set(held)
    summary = "Pod is crash looping."
    assert any(r["anchor"] == summary for r in rows) or "kubernetes/KubePodCrashLooping.md" in held


def test_batches_hold_each_document_once() -> None:
    rows = [{"doc": f"d{i % 5}", "anchor": str(i), "positive": str(i)} for i in range(23)]
    batches = finetune_script().batches(rows, 4, random.Random(1))
    assert all(len({p["doc"] for p in b}) == len(b) <= 4 for b in batches)
    assert sorted(p["anchor"] for b in batches for p in b) == sorted(r["anchor"] for r in rows)


def test_fine_tune_provenance_lines_are_not_files(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(MODEL_DIR, copy)
    with (copy / "SHA256SUMS").open("a", encoding="utf-8") as sums:
        sums.write(f"{'0' * 64}  finetuned/model.safetensors\n")
    verify(copy)
    with (copy / "SHA256SUMS").open("a", encoding="utf-8") as sums:
        sums.write(f"{'0' * 64}  vocab.txt\n")
    with pytest.raises(KnowledgeError, match="is missing"):
        verify(copy)
