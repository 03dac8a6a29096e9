"""`knowledge` CLI group against a stand-in composition root (the real one lives in bot/bootstrap.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli_knowledge import knowledge
from knowledge.kb import KnowledgeBase
from tests.knowledge.conftest import DEMO_DATA, DEMO_ORG, write


@dataclass
class StandInApp:
    """What the CLI needs from the composition root: resolve_org and a KnowledgeBase."""

    knowledge: KnowledgeBase
    orgs: dict[str, str] = field(default_factory=dict)

    def resolve_org(self, name_or_id: str) -> str:
        if name_or_id in self.orgs.values():
            return name_or_id
        if name_or_id not in self.orgs:
            raise LookupError(f"unknown org {name_or_id!r}: create it with `revenant org create`")
        return self.orgs[name_or_id]


@dataclass
class StandInContext:
    """The click context object: obj.app() returns the composition root."""

    application: StandInApp

    def app(self) -> StandInApp:
        return self.application


def _invoke(kb: KnowledgeBase, args: list[str], stdin: str | None = None):  # type: ignore[no-untyped-def]
    obj = StandInContext(StandInApp(kb, {"demo": DEMO_ORG, "acme": "org-acme"}))
    return CliRunner().invoke(knowledge, args, obj=obj, input=stdin)


def test_search_json_is_a_best_first_list(demo_kb: KnowledgeBase) -> None:
    result = _invoke(demo_kb, ["search", "--org", "demo", "--json", "-k", "3", "database says too many clients"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 3 and all({"source", "score", "text"} <= set(h) for h in hits)
    assert hits[0]["source"].startswith("runbooks/postgres-connection-exhaustion.md")
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_search_accepts_an_alert_payload_on_stdin_and_prints_a_listing(demo_kb: KnowledgeBase) -> None:
    payload = {"alerts": [{"labels": {"alertname": "KubeNodeNotReady", "node": "ip-10-0-7-21"},
                           "annotations": {"summary": "Node has been unready for more than 15 minutes"}}]}
    result = _invoke(demo_kb, ["search", "--org", DEMO_ORG, "-k", "2", "-"], stdin=json.dumps(payload))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1. runbooks/node-not-ready.md")
    assert "score" in result.output and "\n   $ " in result.output


def test_batch_prints_one_line_per_query_in_order(demo_kb: KnowledgeBase, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        json.dumps({"id": "a", "query": "order emails late, stream consumer far behind"}) + "\n\n"
        + json.dumps({"id": 7, "query": {"commonLabels": {"alertname": "RedisMemoryHigh"},
                                         "commonAnnotations": {"summary": "keys evicted, OOM command not allowed"}}}) + "\n"
    )
    result = _invoke(demo_kb, ["search", "--org", "demo", "-k", "2", "--batch", str(batch)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7]
    assert all(len(line["results"]) == 2 and {"source", "score", "text"} <= set(line["results"][0]) for line in lines)
    assert lines[1]["results"][0]["source"].startswith("runbooks/redis-memory-pressure.md")


def test_eval_prints_recall_and_mrr(demo_kb: KnowledgeBase) -> None:
    result = _invoke(demo_kb, ["eval", str(DEMO_DATA / "queries.jsonl"), "--org", "demo"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert set(lines) == {"recall@1", "recall@3", "recall@5", "MRR", "queries"}
    assert float(lines["recall@3"]) >= 0.9 and int(lines["queries"]) >= 40


def test_ingest_reports_a_one_line_summary(open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    kb = open_kb(data_dir=tmp_path / "data")
    write(tmp_path / "rb", "a.md", "# A\n\nDisk is full.\n")
    first = _invoke(kb, ["ingest", str(tmp_path / "rb"), "--org", "acme"])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().endswith("1 added, 0 updated, 0 unchanged, 0 removed (1 sections indexed)")
    second = _invoke(kb, ["ingest", str(tmp_path / "rb"), "--org", "acme", "--project", "p"])
    assert "1 added" in second.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "--org", "nope", "disk"], "unknown org 'nope'"),
        (["eval", "QUERIES", "--org", "nope"], "unknown org 'nope'"),
        (["search", "--org", "demo"], "give either a QUERY or --batch"),
    ],
)
def test_errors_are_one_clear_line(demo_kb: KnowledgeBase, args: list[str], message: str) -> None:
    args = [str(DEMO_DATA / "queries.jsonl") if a == "QUERIES" else a for a in args]
    result = _invoke(demo_kb, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_bad_batch_line_is_reported_with_its_number(demo_kb: KnowledgeBase, tmp_path: Path) -> None:
    batch = tmp_path / "bad.jsonl"
    batch.write_text('{"id": 1, "query": "x"}\n{not json}\n')
    result = _invoke(demo_kb, ["search", "--org", "demo", "--batch", str(batch)])
    assert result.exit_code == 1 and "bad.jsonl:2: not JSON" in result.output


def test_changing_the_embedder_is_explained_and_reindex_re_embeds_with_progress(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    from knowledge.embeddings import HashingEmbedding

    docs = tmp_path / "docs"
    write(docs, "runbooks/disk.md", "# Disk filling up\n\n## Mitigation\n\n1. Delete old logs:\n\n```bash\ndu -sh /var/log\n```\n")
    write(docs, "runbooks/crash.md", "# Pod crash loop\n\nA container starts, exits and is restarted with a back-off.\n")
    open_kb(data_dir=tmp_path / "data", embedder=HashingEmbedding()).ingest(docs, DEMO_ORG)
    semantic = open_kb(data_dir=tmp_path / "data")
    refused = _invoke(semantic, ["search", "--org", "demo", "--json", "pods keep restarting"])
    assert refused.exit_code != 0
    assert "reindex --org" in refused.output and "RevenantHashingEmbedding" in refused.output
    done = _invoke(semantic, ["reindex", "--org", "demo"])
    assert done.exit_code == 0, done.output
    assert "sections re-embedded: RevenantHashingEmbedding" in done.output and "RevenantOnnxMiniLM" in done.output
    hits = json.loads(_invoke(semantic, ["search", "--org", "demo", "--json", "-k", "1", "pods keep restarting"]).output)
    assert hits[0]["source"] == "runbooks/crash.md" and hits[0]["similarity"] > 0.3
    assert _invoke(semantic, ["reindex", "--org", "acme"]).exit_code != 0  # nothing to reindex: one clear line


def test_batch_hits_say_whether_they_are_relevant_so_a_client_can_abstain(demo_kb: KnowledgeBase, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        json.dumps({"id": "on", "query": "postgres refuses new connections: too many clients already"}) + "\n"
        + json.dumps({"id": "off", "query": "what is the best recipe for banana bread"}) + "\n"
    )
    result = _invoke(demo_kb, ["search", "--org", "demo", "--json", "-k", "3", "--batch", str(batch)])
    assert result.exit_code == 0, result.output
    lines = {line["id"]: line["results"] for line in map(json.loads, result.output.splitlines())}
    # the shape is unchanged: k results each, best first; relevant is an added field
    assert all(len(hits) == 3 and {"source", "score", "text", "relevant"} <= set(hits[0]) for hits in lines.values())
    floor = demo_kb.relevance_floor
    assert floor is not None
    for hits in lines.values():
        assert all(h["relevant"] == (h["similarity"] >= floor) for h in hits)
    assert lines["on"][0]["relevant"] is True
    assert not any(h["relevant"] for h in lines["off"])


def test_an_uncalibrated_embedder_leaves_relevance_unknown(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    from knowledge.embeddings import HashingEmbedding

    kb = open_kb(data_dir=tmp_path / "data", embedder=HashingEmbedding())
    write(tmp_path / "rb", "disk.md", "# Disk full\n\nThe volume ran out of space.\n")
    kb.ingest(tmp_path / "rb", DEMO_ORG)
    hits = json.loads(_invoke(kb, ["search", "--org", "demo", "--json", "disk full"]).output)
    assert hits and all(h["relevant"] is None for h in hits)


def test_the_listing_marks_weak_matches(demo_kb: KnowledgeBase) -> None:
    weak = _invoke(demo_kb, ["search", "--org", "demo", "-k", "2", "what is the best recipe for banana bread"])
    assert weak.exit_code == 0 and weak.output.count("weak match: below the relevance floor") == 2
    strong = _invoke(demo_kb, ["search", "--org", "demo", "-k", "1", "postgres refuses new connections: too many clients"])
    assert strong.exit_code == 0 and "weak match" not in strong.output
