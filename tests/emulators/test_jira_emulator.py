"""Jira emulator through the `jira` client."""

from __future__ import annotations

from typing import Any

import pytest
from jira import JIRA, JIRAError

from emulators.jira import JiraEmulator


def error_body(error: JIRAError) -> dict[str, Any]:
    assert error.response is not None
    return dict(error.response.json())


def connect(emu: JiraEmulator, password: str = "t", **kwargs: object) -> JIRA:
    return JIRA(server=emu.base_url, basic_auth=("u", password), max_retries=0, **kwargs)  # type: ignore[arg-type]


def test_construction_calls_server_info(jira_emu: JiraEmulator) -> None:
    client = connect(jira_emu)
    assert client.server_info()["deploymentType"] == "Server"
    assert [r.path for r in jira_emu.requests.all()][:1] == ["/rest/api/2/serverInfo"]


def test_create_issue_search_by_label_and_link(jira_emu: JiraEmulator) -> None:
    jira_emu.create_project("OPS", "Operations")
    client = connect(jira_emu)
    fields = {
        "project": {"key": "OPS"},
        "summary": "Postmortem: INC-7 API latency",
        "issuetype": {"name": "Task"},
        "description": "Blameless review",
        "labels": ["revenant", "revenant-inc-7"],
    }
    pm = client.create_issue(fields=fields)
    assert (pm.key, pm.fields.summary, pm.fields.status.name, pm.fields.issuetype.name) == (
        "OPS-1",
        "Postmortem: INC-7 API latency",
        "To Do",
        "Task",
    )
    follow_up = client.create_issue(project="OPS", summary="Add latency SLO alert", issuetype="Bug")
    found = client.search_issues('project = OPS AND labels = "revenant-inc-7"')
    assert [i.key for i in found] == ["OPS-1"] and found.total == 1
    assert [i.key for i in client.search_issues('summary ~ "latency" ORDER BY key ASC')] == ["OPS-1", "OPS-2"]
    assert [i.key for i in client.search_issues("labels in (nope, revenant) OR type = Bug")] == [
        "OPS-2",
        "OPS-1",
    ]
    assert [i.key for i in client.search_issues("project = OPS AND labels is EMPTY")] == ["OPS-2"]
    client.create_issue_link("Relates", pm.key, follow_up.key)
    client.create_issue_link("blocks", pm.key, follow_up.key)  # the client maps outward names to the type
    assert jira_emu.links() == [("Relates", "OPS-1", "OPS-2"), ("Blocks", "OPS-1", "OPS-2")]
    links = client.issue(pm.key).fields.issuelinks
    assert [(link.type.name, link.outwardIssue.key) for link in links] == [
        ("Relates", "OPS-2"),
        ("Blocks", "OPS-2"),
    ]
    assert [link.inwardIssue.key for link in client.issue(follow_up.key).fields.issuelinks] == [
        "OPS-1",
        "OPS-1",
    ]
    client.add_comment(pm.key, "Published from Slack")
    pm.update(fields={"summary": "Postmortem: INC-7"})
    assert client.issue(pm.key).fields.summary == "Postmortem: INC-7"
    assert [c.body for c in client.comments(pm.key)] == ["Published from Slack"]
    assert jira_emu.issues("OPS")[0]["fields"]["labels"] == ["revenant", "revenant-inc-7"]


def test_validation_and_lookup_errors(jira_emu: JiraEmulator) -> None:
    jira_emu.create_project("OPS")
    client = connect(jira_emu)
    with pytest.raises(JIRAError) as missing:
        client.create_issue(fields={"project": {"key": "OPS"}, "issuetype": {"name": "Task"}})
    assert missing.value.status_code == 400
    assert error_body(missing.value) == {
        "errorMessages": [],
        "errors": {"summary": "You must specify a summary of the issue."},
    }
    with pytest.raises(JIRAError) as bad_label:
        client.create_issue(
            fields={
                "project": {"key": "OPS"},
                "summary": "s",
                "issuetype": {"name": "Task"},
                "labels": ["two words"],
            }
        )
    assert "contains spaces" in error_body(bad_label.value)["errors"]["labels"]
    with pytest.raises(JIRAError) as no_project:
        client.search_issues("project = NOPE")
    assert no_project.value.status_code == 400
    with pytest.raises(JIRAError) as bad_field:
        client.search_issues('"Revenant Nonsense" ~ x')
    assert "does not exist" in str(bad_field.value.text)
    with pytest.raises(JIRAError) as no_issue:
        client.issue("OPS-99")
    assert no_issue.value.status_code == 404
    with pytest.raises(JIRAError) as no_type:
        client.create_issue_link("Causes", "OPS-1", "OPS-2")
    assert no_type.value.status_code == 404


def test_bad_credentials_get_401(jira_emu: JiraEmulator) -> None:
    jira_emu.create_project("OPS")
    with pytest.raises(JIRAError) as info:
        connect(jira_emu, password="wrong").project("OPS")
    assert info.value.status_code == 401


def test_custom_fields_are_settable_and_searchable(jira_emu: JiraEmulator) -> None:
    jira_emu.create_project("OPS")
    field_id = jira_emu.add_custom_field("Revenant ID")
    client = connect(jira_emu)
    client.create_issue(
        fields={"project": {"key": "OPS"}, "summary": "s", "issuetype": {"name": "Task"}, field_id: "inc-7"}
    )
    assert [i.key for i in client.search_issues('"Revenant ID" ~ "inc-7"')] == ["OPS-1"]
    assert field_id in {f["id"] for f in client.fields()}


def test_cloud_deployment_uses_enhanced_search(jira_emu: JiraEmulator) -> None:
    jira_emu.deployment_type = "Cloud"
    jira_emu.create_project("OPS")
    client = connect(jira_emu)
    client.create_issue(project="OPS", summary="cloud", issuetype="Task")
    assert [i.key for i in client.search_issues("project = OPS")] == ["OPS-1"]
    assert jira_emu.requests.count("GET /rest/api/2/search/jql") == 1
    with pytest.raises(JIRAError) as gone:
        client._get_json("search", params={"jql": "project = OPS"})
    assert gone.value.status_code == 410


def test_rate_limit_is_retried_by_the_resilient_session(jira_emu: JiraEmulator) -> None:
    jira_emu.create_project("OPS")
    client = JIRA(server=jira_emu.base_url, basic_auth=("u", "t"), max_retries=1)
    jira_emu.inject("POST /rest/api/2/issue", status=429, retry_after=0)
    issue = client.create_issue(project="OPS", summary="after a 429", issuetype="Task")
    assert issue.key == "OPS-1"
    assert [r.status for r in jira_emu.requests.filter("POST /rest/api/2/issue")] == [429, 201]


def test_date_comparisons_and_ordering() -> None:
    now = [1_714_557_600.0]  # 2024-05-01T10:00:00Z
    with JiraEmulator(clock=lambda: now[0]) as emu:
        emu.create_project("OPS")
        client = connect(emu)
        client.create_issue(project="OPS", summary="old", issuetype="Task")
        now[0] += 3 * 86400
        client.create_issue(project="OPS", summary="new", issuetype="Task")
        recent = client.search_issues('project = OPS AND created >= "2024-05-02" ORDER BY created ASC')
        assert [i.fields.summary for i in recent] == ["new"]
        ordered = client.search_issues("project = OPS ORDER BY created ASC")
        assert [i.fields.summary for i in ordered] == ["old", "new"]
