"""The blameless-language checker, table-driven: what it flags, as what, and what it leaves alone."""

from __future__ import annotations

import pytest

from incident_core.blameless import check, check_sections, summarize

FLAGGED = [
    ("Bob forgot to run the migration", "person", "Bob forgot"),
    ("the on-call engineer forgot the canary", "person", "forgot"),
    ("This outage was human error.", "blame", "human error"),
    ("It was a human-error on the config", "blame", "human-error"),
    ("We should have rolled back sooner", "counterfactual", "should have"),
    ("They shouldn't have deployed on Friday", "counterfactual", "shouldn't have"),
    ("a canary could have caught it", "counterfactual", "could have"),
    ("If only we had paged the DB team", "counterfactual", "If only"),
    ("the deploy failed to roll out", "counterfactual", "failed to"),
    ("Alice was careless with the flag", "judgement", "careless"),
    ("a negligent change to the pool size", "judgement", "negligent"),
    ("sloppy review of the migration", "judgement", "sloppy"),
    ("the root cause was the fault of the DB team", "blame", "fault of"),
    ("it was his fault", "blame", "his fault"),
    ("@U123ABC broke prod", "person", "@U123ABC broke"),  # Slack hands mentions over as @id (handlers/slack/incoming.py)
    ("@dana caused the outage", "person", "@dana caused"),
    ("he skipped the canary stage", "person", "he skipped"),
    ("Carol neglected the runbook", "person", "Carol neglected"),
    ("Dave failed to notice the alert", "person", "Dave failed to"),
    ("someone accidentally deleted the index", "person", "someone accidentally"),
]

CLEAN = [
    "The pool was exhausted after the 09:50 deploy",
    "Checkout broke the payments API contract",  # a system as subject of a failure is fine
    "The alert did not fire because its threshold was 5%",
    "Rolled back checkout to v412 at 10:18 UTC",
    "The runbook step for failover has no verification",
    "Monitoring failed over to the secondary region",
]


@pytest.mark.parametrize(("text", "category", "phrase"), FLAGGED)
def test_flags_blame_and_counterfactuals(text: str, category: str, phrase: str) -> None:
    found = check(text)
    assert found, f"nothing flagged in {text!r}"
    assert found[0].category == category
    assert phrase.lower() in found[0].phrase.lower()
    assert found[0].suggestion and found[0].message


@pytest.mark.parametrize("text", CLEAN)
def test_leaves_blameless_wording_alone(text: str) -> None:
    assert check(text) == []


def test_known_people_are_caught_in_lowercase_and_sections_are_located() -> None:
    assert check("dana pushed a bad config", people=["slack:dana"])[0].category == "person"
    assert check("dana pushed a bad config") == []
    findings = check_sections({"summary": "All good.\nBob forgot the flag.", "went_wrong": "human error"})
    assert [(f.section, f.line, f.category) for f in findings] == [("summary", 2, "person"),
                                                                   ("went_wrong", 1, "blame")]
    assert summarize(findings)[0].startswith("summary l.2: “Bob forgot the flag”")


def test_suggestions_rephrase_around_the_step() -> None:
    forgot = check("Bob forgot to run the migration")[0]
    assert "run the migration" in forgot.suggestion and "Bob" not in forgot.suggestion
    should = check("we should have rolled back sooner")[0]
    assert "rolled back sooner" in should.suggestion
