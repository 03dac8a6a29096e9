"""Jira state (projects, issues, links, fields) and its REST v2 JSON shapes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ISSUE_TYPES = [
    {
        "id": "10000",
        "name": "Epic",
        "subtask": False,
        "hierarchyLevel": 1,
        "description": "A big user story.",
    },
    {"id": "10001", "name": "Story", "subtask": False, "hierarchyLevel": 0, "description": "A user story."},
    {
        "id": "10002",
        "name": "Task",
        "subtask": False,
        "hierarchyLevel": 0,
        "description": "A small piece of work.",
    },
    {
        "id": "10003",
        "name": "Sub-task",
        "subtask": True,
        "hierarchyLevel": -1,
        "description": "A piece of a task.",
    },
    {"id": "10004", "name": "Bug", "subtask": False, "hierarchyLevel": 0, "description": "A problem."},
]
LINK_TYPES = [
    {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
    {"id": "10001", "name": "Cloners", "inward": "is cloned by", "outward": "clones"},
    {"id": "10002", "name": "Duplicate", "inward": "is duplicated by", "outward": "duplicates"},
    {"id": "10003", "name": "Relates", "inward": "relates to", "outward": "relates to"},
]
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
SYSTEM_FIELDS = [
    ("summary", "Summary", "string"),
    ("description", "Description", "string"),
    ("issuetype", "Issue Type", "issuetype"),
    ("project", "Project", "project"),
    ("labels", "Labels", "array"),
    ("priority", "Priority", "priority"),
    ("status", "Status", "status"),
    ("assignee", "Assignee", "user"),
    ("reporter", "Reporter", "user"),
    ("created", "Created", "datetime"),
    ("updated", "Updated", "datetime"),
    ("issuelinks", "Linked Issues", "array"),
    ("comment", "Comment", "comments-page"),
    ("components", "Component/s", "array"),
    ("duedate", "Due date", "date"),
]
SETTABLE = {
    "summary",
    "description",
    "issuetype",
    "project",
    "labels",
    "priority",
    "assignee",
    "reporter",
    "components",
    "duedate",
}


def jira_time(ts: float) -> str:
    """Jira's timestamp format: 2024-05-01T10:15:30.000+0000."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class Project:
    """A Jira project."""

    id: str
    key: str
    name: str
    lead: str


@dataclass
class Issue:
    """An issue: stored field values plus comments."""

    id: str
    key: str
    project: str
    number: int
    fields: dict[str, Any]
    created: float
    updated: float
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Link:
    """A link between two issues: `inward` shows the outward description ("A blocks B")."""

    id: str
    type: dict[str, str]
    inward: str
    outward: str


class JiraState:
    """Projects, issues, links and custom fields, with JSON rendering."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.projects: dict[str, Project] = {}
        self.issues: dict[str, Issue] = {}
        self.links: list[Link] = []
        self.custom_fields: dict[str, str] = {}
        self.next_issue_id = 10000
        self.next_project_id = 10000

    def project(self, ref: Any) -> Project | None:
        """A project by key, id or {"key"/"id"} object."""
        if isinstance(ref, dict):
            ref = ref.get("key") or ref.get("id")
        ref = str(ref or "")
        return self.projects.get(ref.upper()) or next(
            (p for p in self.projects.values() if p.id == ref), None
        )

    def issue(self, ref: str) -> Issue | None:
        """An issue by key or id."""
        return self.issues.get(ref.upper()) or next((i for i in self.issues.values() if i.id == ref), None)

    # ----- JSON -----
    def user_json(self, base: str, name: str | None) -> dict[str, Any] | None:
        """A user object (server-style name plus a cloud-style accountId)."""
        if not name:
            return None
        return {
            "self": f"{base}/rest/api/2/user?username={name}",
            "name": name,
            "key": name,
            "accountId": f"acc-{name}",
            "emailAddress": f"{name}@example.com",
            "displayName": name,
            "active": True,
            "timeZone": "UTC",
        }

    def issuetype_json(self, base: str, it: dict[str, Any]) -> dict[str, Any]:
        """An issue type object."""
        return {
            "self": f"{base}/rest/api/2/issuetype/{it['id']}",
            "iconUrl": f"{base}/images/{it['id']}.svg",
            **it,
        }

    def project_json(self, base: str, p: Project, *, full: bool = True) -> dict[str, Any]:
        """A project object (full for GET /project/{key})."""
        data: dict[str, Any] = {
            "self": f"{base}/rest/api/2/project/{p.id}",
            "id": p.id,
            "key": p.key,
            "name": p.name,
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": {"48x48": f"{base}/secure/projectavatar?pid={p.id}"},
        }
        if full:
            data.update(
                {
                    "description": "",
                    "lead": self.user_json(base, p.lead),
                    "components": [],
                    "issueTypes": [self.issuetype_json(base, it) for it in ISSUE_TYPES],
                    "assigneeType": "UNASSIGNED",
                    "versions": [],
                    "roles": {},
                    "style": "classic",
                    "isPrivate": False,
                }
            )
        return data

    def link_type_json(self, base: str, lt: dict[str, str]) -> dict[str, Any]:
        """An issue link type."""
        return {**lt, "self": f"{base}/rest/api/2/issueLinkType/{lt['id']}"}

    def brief_issue(self, base: str, issue: Issue) -> dict[str, Any]:
        """The short issue form used inside links."""
        f = issue.fields
        return {
            "id": issue.id,
            "key": issue.key,
            "self": f"{base}/rest/api/2/issue/{issue.id}",
            "fields": {k: f.get(k) for k in ("summary", "status", "priority", "issuetype")},
        }

    def issue_json(self, base: str, issue: Issue, wanted: set[str] | None = None) -> dict[str, Any]:
        """GET /issue/{key}: every field, or only `wanted` ones."""
        links = []
        for link in self.links:
            for mine, other_key, side in (
                (link.inward, link.outward, "outwardIssue"),
                (link.outward, link.inward, "inwardIssue"),
            ):
                other = self.issues.get(other_key)
                if mine == issue.key and other is not None:
                    links.append(
                        {
                            "id": link.id,
                            "self": f"{base}/rest/api/2/issueLink/{link.id}",
                            "type": self.link_type_json(base, link.type),
                            side: self.brief_issue(base, other),
                        }
                    )
        fields = dict(issue.fields)
        fields.update(
            {
                "created": jira_time(issue.created),
                "updated": jira_time(issue.updated),
                "issuelinks": links,
                "comment": {
                    "comments": issue.comments,
                    "maxResults": len(issue.comments),
                    "total": len(issue.comments),
                    "startAt": 0,
                },
            }
        )
        if wanted is not None and not wanted & {"*all", "*navigable"}:
            fields = {k: v for k, v in fields.items() if k in wanted}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": f"{base}/rest/api/2/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }

    def fields_json(self) -> list[dict[str, Any]]:
        """GET /field: system fields plus custom fields."""
        out = [
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": fid in SETTABLE,
                "navigable": True,
                "searchable": True,
                "clauseNames": [fid] + (["type"] if fid == "issuetype" else []),
                "schema": {"type": kind, "system": fid},
            }
            for fid, name, kind in SYSTEM_FIELDS
        ]
        for fid, name in self.custom_fields.items():
            number = fid.rsplit("_", 1)[-1]
            out.append(
                {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": True,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [f"cf[{number}]", name],
                    "schema": {
                        "type": "string",
                        "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
                        "customId": int(number),
                    },
                }
            )
        return out
