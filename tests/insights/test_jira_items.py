"""Action item status read back from Jira (the emulator) through the publisher's issues, into patterns and the
recurrence line; Jira unreachable leaves the status unknown instead of guessing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jira import JIRA

from bot.bootstrap import App
from emulators.jira import JiraEmulator
from incident_core.insights_usecases import pattern_report
from incident_core.intake import intake_signals
from incident_core.model import OrgRole
from incident_core.patterns import postmortem_of
from incident_core.postmortem_render import document_of
from incident_core.recurrence import note_recurrence
from incident_core.recurrence_text import line
from publishers.jira import JiraPublisher
from publishers.jira_items import JiraActionItems
from storage.insights_queries import SqlIncidentHistory
from tests.conftest import make_app
from tests.insights.history import recurring, signal

USER, TOKEN = "bot@acme.example", "jira-token"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    built = make_app(f"sqlite:///{tmp_path / 'revenant.db'}", tmp_path)
    yield built
    built.close()


def test_done_in_jira_is_done_in_patterns_and_in_the_war_room_line(app: App) -> None:
    org = app.directory.create_org("jira-acme")
    app.directory.set_role(org.id, "slack:UBOSS", OrgRole.COMMANDER)
    recurring(app, org.id, "slack:UBOSS", app.directory.create_org("jira-other").id)
    first = app.queries.get(org.id, "INC-1")
    assert first is not None
    with JiraEmulator(users={USER: TOKEN}) as jira:
        url = jira.base_url
        jira.create_project("OPS", "Operations")
        publisher = JiraPublisher(jira.base_url, USER, TOKEN)
        publisher.publish(document_of(first, {}), {"project": "OPS"})
        items = sorted((i for i in jira.issues("OPS") if "revenant-ai-1" in i["fields"]["labels"]),
                       key=lambda i: i["key"])
        JIRA(server=jira.base_url, basic_auth=(USER, TOKEN)).transition_issue(items[0]["key"], "Done")
        tracker = JiraActionItems(publisher, "OPS")
        report = pattern_report(history=SqlIncidentHistory(app.engine), tracker=tracker, org_id=org.id,
                                now=datetime.now(UTC), period=timedelta(days=30))
        high = next(p for p in report.patterns if p.key == "alertname+service=HighLatency/checkout").to_dict()
        statuses = [(a["id"], a["status"], a["tracker_ref"]) for a in high["postmortems"][0]["action_items"]]
        assert statuses[0] == ("ai-1", "done", items[0]["key"]) and statuses[1][:2] == ("ai-2", "open")
        assert high["action_items_done"] == 1 and high["action_items_open"] == 1

        intake_signals(deps=app.deps, org_id=org.id, signals=[signal(org.id, 24, datetime.now(UTC))])
        third = app.queries.get(org.id, "INC-3")
        assert third is not None
        note_recurrence(deps=app.deps, queries=app.queries, history=SqlIncidentHistory(app.engine), tracker=tracker,
                        org_id=org.id, incident_id=third.incident_id)
        noted = app.queries.get(org.id, "INC-3")
        assert noted is not None
        assert line(noted.recurrence) == ("3rd time in 30 days: INC-1, INC-2 · postmortem of INC-1 · "
                                          "1 action item still open")
    # Jira is gone now: the status cannot be read, and is left unknown rather than called open.
    down = JiraActionItems(JiraPublisher(url, USER, TOKEN, timeout=2), "OPS")
    ref = postmortem_of(first)
    assert ref is not None and down.statuses(org.id, [ref]) == {}
    assert line(replace(noted.recurrence, items_open=0, items_unknown=2)).endswith("2 action items with unknown status")


def test_a_project_key_that_is_not_one_is_refused() -> None:
    from publishers.errors import PublishError

    with pytest.raises(PublishError, match="project key"):
        JiraActionItems(JiraPublisher("http://127.0.0.1:9", USER, TOKEN), 'OPS" OR project = "HR')
