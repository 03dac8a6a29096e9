"""Evaluation maths, and a retrieval-quality regression check on the shipped query set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.evaluation import EvalQuery, load_queries, matches, score
from knowledge.kb import KnowledgeBase
from knowledge.models import Hit, KnowledgeError
from tests.knowledge.conftest import DEMO_DATA, DEMO_ORG


def test_matching_rules() -> None:
    assert matches("runbooks/a.md#diagnosis", "runbooks/a.md")
    assert matches("runbooks/a.md#diagnosis", "runbooks/a.md#diagnosis")
    assert not matches("runbooks/a.md#impact", "runbooks/a.md#diagnosis")
    assert not matches("runbooks/ab.md", "runbooks/a.md")


def test_recall_and_mrr() -> None:
    queries = [EvalQuery("1", "q", ("a.md",)), EvalQuery("2", "q", ("b.md", "c.md")), EvalQuery("3", "q", ("z.md",))]
    ranked = [["a.md#x", "b.md"], ["x.md", "y.md", "c.md#s"], ["x.md"]]
    report = score(queries, [[Hit(source=s, score=1.0, text="") for s in r] for r in ranked], (1, 3))
    assert report.n == 3
    assert report.recall == {1: pytest.approx(1 / 3), 3: pytest.approx(2 / 3)}
    assert report.mrr == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert [o.rank for o in report.outcomes] == [1, 3, None]


def test_query_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": 1, "query": "x", "expected": ["a.md"]}\n{"id": 2}\n')
    with pytest.raises(KnowledgeError, match=":2:"):
        load_queries(bad)


def test_shipped_query_set_has_three_styles() -> None:
    rows = [json.loads(line) for line in (DEMO_DATA / "queries.jsonl").read_text().splitlines()]
    assert len(rows) >= 40
    assert sum(isinstance(r["query"], dict) for r in rows) >= 10
    assert sum(str(r["id"]).startswith("log") for r in rows) >= 10
    for row in rows:
        for expected in row["expected"]:
            assert (DEMO_DATA / expected.split("#")[0]).is_file(), expected


def test_shipped_query_set_quality(demo_kb: KnowledgeBase) -> None:
    report = demo_kb.evaluate(DEMO_ORG, DEMO_DATA / "queries.jsonl")
    assert report.n >= 40
    assert report.recall[3] >= 0.9, report.summary()
    assert report.mrr >= 0.8, report.summary()
