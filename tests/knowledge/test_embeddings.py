"""Embedders: the offline hashing default, the factory, the Chroma adapter and the OpenAI client path."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedder_onnx import MODEL_DIR, OnnxMiniLMEmbedding, verify
from knowledge.embeddings import ChromaEmbeddingAdapter, HashingEmbedding, make_embedder
from knowledge.kb import KnowledgeBase
from knowledge.models import KnowledgeError


def test_hashing_embedder_is_deterministic_normalised_and_meaningful() -> None:
    embedder = HashingEmbedding()
    a = np.array(embedder.get_text_embedding("Postgres: too many clients, connection pool exhausted"))
    again = np.array(HashingEmbedding().get_text_embedding("Postgres: too many clients, connection pool exhausted"))
    near = np.array(embedder.get_query_embedding("database refuses connections, too many clients"))
    far = np.array(embedder.get_query_embedding("kafka consumer lag growing"))
    assert a.shape == (768,) and np.allclose(a, again)
    assert abs(np.linalg.norm(a) - 1.0) < 1e-5
    assert float(a @ near) > float(a @ far) + 0.2
    assert np.linalg.norm(embedder.get_text_embedding("")) == 0.0
    camel = np.array(embedder.get_text_embedding("KubePodCrashLooping"))
    assert float(camel @ np.array(embedder.get_text_embedding("pod crash looping"))) > 0.3


def test_chroma_adapter_wraps_any_llamaindex_embedder() -> None:
    adapter = ChromaEmbeddingAdapter(HashingEmbedding(dim=128))
    vectors = adapter(["disk full", "dns timeout"])
    assert len(vectors) == 2 and len(vectors[0]) == 128
    assert adapter.get_config()["embedder"].startswith("RevenantHashingEmbedding:")
    rebuilt = ChromaEmbeddingAdapter.build_from_config(adapter.get_config())
    assert np.allclose(rebuilt(["disk full"])[0], vectors[0])


def test_factory_kinds_and_clear_errors() -> None:
    assert isinstance(make_embedder("offline"), OnnxMiniLMEmbedding)
    assert isinstance(make_embedder("hashing"), HashingEmbedding)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        make_embedder("openai")
    with pytest.raises(ValueError, match="unknown embedder kind"):
        make_embedder("word2vec")
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="sentence-transformers"):
            make_embedder("local:all-MiniLM-L6-v2")


class _FakeEmbeddings(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.0]}
                for i, t in enumerate(body["input"])]
        payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return


def test_openai_embedder_talks_to_a_compatible_endpoint() -> None:
    server = HTTPServer(("127.0.0.1", 0), _FakeEmbeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        embedder = make_embedder("openai", openai_api_key="sk-test",
                                 openai_base_url=f"http://127.0.0.1:{server.server_port}/v1", model="emb-small")
        assert embedder.get_text_embedding_batch(["ab", "abcd"]) == [[2.0, 1.0, 0.0], [4.0, 1.0, 0.0]]
        assert embedder.get_query_embedding("xyz") == [3.0, 1.0, 0.0]
    finally:
        server.shutdown()


def test_a_different_embedder_on_existing_data_is_refused(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    open_kb(data_dir=tmp_path).index_document("acme", "a", "A", "# A\n\ndisk full", kind="incident")
    other = open_kb(data_dir=tmp_path, embedder=HashingEmbedding(dim=256))
    with pytest.raises(KnowledgeError, match="indexed with embedder"):
        other.search("acme", "disk full")


def test_another_process_sees_new_content_without_restarting(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    writer, reader = open_kb(data_dir=tmp_path), open_kb(data_dir=tmp_path)
    writer.index_document("acme", "first", "First", "# First\n\nredis evictions rising", kind="incident")
    assert [h.path for h in reader.search("acme", "redis evictions")] == ["first"]
    writer.index_document("acme", "second", "Second", "# Second\n\nkafka consumer lag", kind="incident")
    assert [h.path for h in reader.search("acme", "kafka consumer lag", k=1)] == ["second"]


def test_shipped_model_is_semantic_unit_length_and_deterministic() -> None:
    model = OnnxMiniLMEmbedding()
    restart = np.array(model.get_query_embedding("pods keep restarting after the deploy"))
    crash = np.array(model.get_text_embedding("A container starts, exits, and Kubernetes restarts it with a back-off."))
    disk = np.array(model.get_text_embedding("A filesystem is predicted to run out of space within hours."))
    assert restart.shape == (384,) and abs(np.linalg.norm(restart) - 1.0) < 1e-3
    # No shared content word, yet the restart symptom is far closer to the crash loop than to the disk.
    assert restart @ crash > restart @ disk + 0.2
    again = model.embed_many(["pods keep restarting after the deploy", "x" * 5000, ""])
    assert np.allclose(again[0], restart, atol=1e-5)
    assert all(abs(np.linalg.norm(v) - 1.0) < 1e-3 for v in again)  # long text truncated, empty text embedded


def test_the_shipped_model_embeds_alike_on_every_cpu() -> None:
    """Vectors recorded with the shipped model. Its int8 weights are stored as uint8, so onnxruntime runs
    exact integer kernels everywhere; with int8 weights, CPUs without AVX-512 VNNI saturated 16-bit sums
    and gave other vectors (and relevance floors tuned elsewhere failed there)."""
    golden = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "embedding_golden.json").read_text())
    vectors = OnnxMiniLMEmbedding().embed_many(golden["texts"])
    for text, got, want in zip(golden["texts"], vectors, np.array(golden["vectors"]), strict=True):
        assert float(got @ want) > 0.9999 and float(np.abs(got - want).max()) < 2e-3, text


def test_shipped_model_is_checked_against_its_checksums(tmp_path: Path) -> None:
    verify(MODEL_DIR)
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("model.onnx", "tokenizer.json", "SHA256SUMS"):
        (copy / name).write_bytes((MODEL_DIR / name).read_bytes())
    (copy / "tokenizer.json").write_text("version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(KnowledgeError, match="does not match SHA256SUMS"):
        verify(copy)
    (copy / "SHA256SUMS").unlink()
    with pytest.raises(KnowledgeError, match="no SHA256SUMS"):
        verify(copy)
