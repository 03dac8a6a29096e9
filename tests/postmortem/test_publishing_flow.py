"""Draft on resolution, edit, submit, approve and publish to GitHub, Jira and the knowledge base through the
outbox — exactly once, with retries — on SQLite and PostgreSQL, against the GitHub and Jira emulators."""

from __future__ import annotations

import pytest

from bot.worker import deliver_once, subscribers
from incident_core import postmortem_usecases as pmu
from incident_core.errors import PermissionDenied
from incident_core.model import Status
from incident_core.postmortem_check import CITATION, citations, is_guidance
from incident_core.services import postmortems
from publishers.github import GitHubPublisher
from publishers.jira import JiraPublisher
from tests.postmortem.conftest import (
    ALICE,
    BOB,
    VIC,
    PublishWorld,
    deliver_all,
    make_due,
    outbox_rows,
    resolved,
)


def approve(world: PublishWorld) -> None:
    s = world.state()
    pmu.submit_postmortem(deps=world.deps, queries=world.app.queries, org_id=world.org_id,
                          incident_id=s.incident_id, actor=BOB)
    pmu.approve_postmortem(deps=world.deps, queries=world.app.queries, org_id=world.org_id,
                           incident_id=s.incident_id, actor=ALICE)


def one_pass(world: PublishWorld) -> None:
    make_due(world.app, world.org_id)
    deliver_once(world.app)


def drafted(world: PublishWorld) -> None:
    resolved(world)
    deliver_all(world)  # incident.changed → the automatic draft
    assert world.state().postmortem.status == "draft"


def test_resolution_drafts_and_approval_publishes_everywhere_once_then_closes(publish_world: PublishWorld) -> None:
    w = publish_world
    drafted(w)
    s = w.state()
    assert s.postmortem.drafted_by == pmu.SYSTEM and s.postmortem.source == "deterministic"
    notices = [pmu.notice_content(r.payload).plain() for r in outbox_rows(w.app, w.org_id, "pm-drafted:")]
    assert len(notices) == 1 and "/revenant postmortem" in notices[0]
    pmu.save_edits(deps=w.deps, org_id=w.org_id, incident_id=s.incident_id, actor=BOB,
                   sections={"summary": s.postmortem.sections["summary"] + "\nThe rollback restored service. [ev 8]"})
    with pytest.raises(PermissionDenied, match="viewer"):
        pmu.save_edits(deps=w.deps, org_id=w.org_id, incident_id=s.incident_id, actor=VIC, sections={"summary": "x"})
    with pytest.raises(PermissionDenied, match="commander or above may approve"):
        pmu.approve_postmortem(deps=w.deps, queries=w.app.queries, org_id=w.org_id, incident_id=s.incident_id,
                               actor=BOB)
    approve(w)
    publishes = outbox_rows(w.app, w.org_id, "pm:")
    assert sorted(r.payload["target"] for r in publishes) == ["github", "jira", "knowledge"]
    deliver_all(w)
    s = w.state()
    assert s.status is Status.CLOSED and s.postmortem.status == "published"
    assert set(s.postmortem.published) == {"github", "jira", "knowledge"}
    types = w.types()
    assert types.count("PostmortemPublished") == 3 and types[-1] == "StatusChanged"
    prs = w.gh.pull_requests("acme", "postmortems")
    assert len(prs) == 1 and prs[0]["html_url"] == s.postmortem.published["github"]
    path = f"postmortems/{s.status_times['resolved'][:10]}-inc-1.md"
    markdown = w.gh.file("acme", "postmortems", prs[0]["head"]["ref"], path)
    assert markdown is not None and "The rollback restored service. \\[ev 8]" in markdown  # `[` escaped: no link
    versions = {e.version for e in w.app.queries.timeline(w.org_id, s.incident_id)}
    cited = [line for line in markdown.splitlines() if CITATION.search(line)]
    assert cited and all(citations(line) <= versions for line in cited)
    body = markdown.split("## Summary", 1)[1].split("---")[0]
    assert all(CITATION.search(line) or is_guidance(line) or line.startswith("|") for line in body.splitlines())
    issues = w.jira.issues("OPS")
    assert [i["fields"]["summary"] for i in issues].count(f"Postmortem: INC-1 — {s.title}") == 1
    assert len(issues) == 1 + len(s.postmortem.action_items) and len(w.jira.links()) == len(issues) - 1
    assert (w.org_id, "postmortems/" + path.split("/")[1]) in w.knowledge.documents
    requests_before = len(w.gh.requests.all()) + len(w.jira.requests.all())
    publishing = subscribers(w.app)[pmu.PUBLISH][0]
    for row in publishes:  # redelivering an old publish message is a no-op
        publishing(type("Msg", (), {"org_id": w.org_id, "key": row.key, "payload": row.payload, "attempts": 0})())
    assert len(w.gh.requests.all()) + len(w.jira.requests.all()) == requests_before


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # retry logic is store-independent; it waits ~4 s
def test_5xx_and_timeouts_are_retried_without_duplicates(publish_world: PublishWorld) -> None:
    w = publish_world
    w.app.overrides["publishers"] = {
        "github": GitHubPublisher("ghp-test-token", base_url=w.gh.base_url, timeout=1, retries=0,
                                  seconds_between_writes=0),
        "jira": JiraPublisher(w.jira.base_url, "u", "jira-pass", timeout=1)}
    drafted(w)
    w.gh.inject("PUT /repos/acme/postmortems/contents/*", status=502)
    w.gh.inject("POST /repos/acme/postmortems/pulls", delay=1.8)  # created after the client gave up
    w.jira.inject("POST /rest/api/2/issue", status=503, times=2)
    w.jira.inject("POST /rest/api/2/issue", delay=1.8)
    approve(w)
    one_pass(w)  # GitHub 502 on the file, Jira 503
    one_pass(w)  # GitHub: the pull request times out (but lands); Jira 503 again
    w.gh.requests.wait_for("POST /repos/acme/postmortems/pulls", timeout=5)
    one_pass(w)  # GitHub: the lookup finds the pull request; Jira: the issue times out (but lands)
    w.jira.requests.wait_for("POST /rest/api/2/issue", count=3, timeout=5)
    deliver_all(w)  # Jira: the search finds it, the action items follow
    assert len(w.gh.pull_requests("acme", "postmortems")) == 1
    assert w.gh.requests.count("POST /repos/acme/postmortems/pulls") == 1
    created = [r for r in w.jira.requests.filter("POST /rest/api/2/issue") if r.status == 201]
    summaries = [i["fields"]["summary"] for i in w.jira.issues("OPS")]
    assert len(created) == len(summaries) == len(set(summaries)) == 1 + len(w.state().postmortem.action_items)
    row = next(r for r in outbox_rows(w.app, w.org_id, "pm:") if r.payload["target"] == "github")
    assert row.attempts == 3 and row.delivered_at is not None
    assert w.state().status is Status.CLOSED


def test_a_crash_between_sending_and_recording_does_not_publish_twice(publish_world: PublishWorld,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    w = publish_world
    drafted(w)
    real = pmu.record_publication
    crashed: list[str] = []

    def crash_once(**kwargs: object) -> object:
        if kwargs["target"] not in crashed:
            crashed.append(str(kwargs["target"]))
            raise ConnectionError("worker died before recording")
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(postmortems.pmu, "record_publication", crash_once)
    approve(w)
    deliver_all(w)
    assert sorted(crashed) == ["github", "jira", "knowledge"]
    assert len(w.gh.pull_requests("acme", "postmortems")) == 1
    assert len(w.jira.issues("OPS")) == 1 + len(w.state().postmortem.action_items)
    assert len(w.jira.links()) == len(w.state().postmortem.action_items)
    assert w.types().count("PostmortemPublished") == 3 and w.state().status is Status.CLOSED


def test_a_misconfigured_target_keeps_retrying_and_says_what_to_fix(publish_world: PublishWorld) -> None:
    w = publish_world
    w.app.directory.update_org_settings(w.org_id, {"publishing": {"github": {"repo": "acme/missing"}}})
    drafted(w)
    approve(w)
    with pytest.raises(AssertionError, match="pending"):
        deliver_all(w, rounds=3)
    row = next(r for r in outbox_rows(w.app, w.org_id, "pm:") if r.payload["target"] == "github")
    assert row.attempts == 3 and "acme/missing was not found" in row.last_error
    assert w.state().status is Status.RESOLVED and "knowledge" in w.state().postmortem.published
