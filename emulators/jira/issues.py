"""Issue rules of the Jira emulator: field validation, creation, updates, comments and JQL search."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from emulators.jira.jql import JqlError, parse
from emulators.jira.state import ISSUE_TYPES, PRIORITIES, SETTABLE, Issue, JiraState, jira_time

FIELD_ALIASES = {"type": "issuetype", "issuekey": "key", "id": "key"}
WORKFLOW: dict[str, tuple[str, dict[str, Any]]] = {
    "To Do": ("10000", {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"}),
    "In Progress": ("3", {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"}),
    "Done": ("10001", {"id": 3, "key": "done", "colorName": "green", "name": "Done"}),
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
SEARCHABLE = {"project", "key", "labels", "summary", "description", "text", "status", "issuetype", "priority"}
SEARCHABLE |= {"assignee", "reporter", "created", "updated"}


class IssueRules:
    """Validation and mutation of issues, as Jira answers them (errors keyed by field)."""

    def __init__(self, state: JiraState, base_url: Callable[[], str], clock: Callable[[], float]) -> None:
        self.state = state
        self.base = base_url
        self.clock = clock

    def validate(self, fields: dict[str, Any], *, creating: bool) -> dict[str, str]:
        """Jira's per-field error messages; {} when the fields are acceptable."""
        errors: dict[str, str] = {}
        for name in fields:
            if name not in SETTABLE and name not in self.state.custom_fields:
                errors[name] = (
                    f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                )
        if creating and self.state.project(fields.get("project")) is None:
            errors["project"] = (
                "valid project is required" if fields.get("project") else "project is required"
            )
        if creating and not fields.get("issuetype"):
            errors["issuetype"] = "issue type is required"
        elif "issuetype" in fields and self.issue_type(fields["issuetype"]) is None:
            errors["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if (creating or "summary" in fields) and not (isinstance(summary, str) and summary.strip()):
            errors["summary"] = "You must specify a summary of the issue."
        elif isinstance(summary, str) and len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        for label in fields.get("labels") or []:
            if not isinstance(label, str) or re.search(r"\s", label):
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        priority = fields.get("priority")
        if priority is not None and self.priority(priority) is None:
            errors["priority"] = f"Priority name '{priority}' is not valid"
        return errors

    def create(self, fields: dict[str, Any], reporter: str) -> Issue:
        """Create a validated issue with Jira's defaults (To Do, Medium)."""
        project = self.state.project(fields["project"])
        assert project is not None
        number = 1 + sum(1 for i in self.state.issues.values() if i.project == project.key)
        now = self.clock()
        issue = Issue(
            str(self.state.next_issue_id), f"{project.key}-{number}", project.key, number, {}, now, now
        )
        self.state.next_issue_id += 1
        reporter_json = self.state.user_json(self.base(), reporter)
        issue.fields.update(
            {
                "labels": [],
                "priority": self.priority({"name": "Medium"}),
                "status": self.status(),
                "assignee": None,
                "reporter": reporter_json,
                "creator": reporter_json,
                "components": [],
                "description": None,
                "resolution": None,
                "resolutiondate": None,
                "duedate": None,
            }
        )
        self.apply(issue, fields)
        issue.fields["project"] = self.state.project_json(self.base(), project, full=False)
        self.state.issues[issue.key] = issue
        return issue

    def apply(self, issue: Issue, fields: dict[str, Any]) -> None:
        """Set fields, expanding references (issuetype, priority, users) to full objects."""
        for name, value in fields.items():
            if name == "issuetype":
                value = self.issue_type(value)
            elif name == "priority":
                value = self.priority(value)
            elif name in ("assignee", "reporter"):
                who = value.get("name") or value.get("accountId") if isinstance(value, dict) else value
                value = self.state.user_json(self.base(), who)
            elif name == "project":
                continue
            issue.fields[name] = value
        issue.updated = self.clock()

    def update_labels(self, issue: Issue, operations: list[dict[str, Any]]) -> None:
        """The "update": {"labels": [{"add"|"remove"|"set": ...}]} verbs."""
        for op in operations:
            labels = issue.fields["labels"]
            if "add" in op and op["add"] not in labels:
                labels.append(op["add"])
            if "remove" in op and op["remove"] in labels:
                labels.remove(op["remove"])
            if "set" in op:
                issue.fields["labels"] = list(op["set"])

    def issue_type(self, ref: Any) -> dict[str, Any] | None:
        """An issue type object from {"id"|"name"} or a bare id/name."""
        key = ref.get("id") or ref.get("name") if isinstance(ref, dict) else ref
        found = next((t for t in ISSUE_TYPES if str(key) in (t["id"], t["name"])), None)
        return self.state.issuetype_json(self.base(), found) if found else None

    def priority(self, ref: Any) -> dict[str, Any] | None:
        """A priority object from {"name"|"id"} or a bare name/id."""
        key = ref.get("name") or ref.get("id") if isinstance(ref, dict) else ref
        for i, name in enumerate(PRIORITIES, start=1):
            if str(key) in (name, str(i)):
                return {"self": f"{self.base()}/rest/api/2/priority/{i}", "name": name, "id": str(i)}
        return None

    def status(self, name: str = "To Do") -> dict[str, Any]:
        """A workflow status ("To Do", the initial one, "In Progress" or "Done") with its category."""
        base = self.base()
        status_id, category = WORKFLOW[name]
        return {
            "self": f"{base}/rest/api/2/status/{status_id}",
            "description": "",
            "iconUrl": f"{base}/images/icons/status_generic.gif",
            "name": name,
            "id": status_id,
            "statusCategory": dict(category),
        }

    def transitions(self) -> list[dict[str, Any]]:
        """GET …/transitions: every status of the simple workflow is reachable from any other."""
        return [{"id": tid, "name": name, "to": self.status(name), "hasScreen": False, "isGlobal": True,
                 "isInitial": False, "isConditional": False}
                for tid, name in TRANSITIONS.items()]

    def transition(self, issue: Issue, transition_id: str) -> bool:
        """Move the issue; False when the transition id is unknown."""
        name = TRANSITIONS.get(str(transition_id))
        if name is None:
            return False
        issue.fields["status"] = self.status(name)
        done = name == "Done"
        issue.fields["resolution"] = {"id": "10000", "name": "Done"} if done else None
        issue.fields["resolutiondate"] = jira_time(self.clock()) if done else None
        issue.updated = self.clock()
        return True

    def comment(self, issue: Issue, text: Any, user: str) -> dict[str, Any]:
        """Append a comment and return its JSON."""
        comment_id = str(10000 + sum(len(i.comments) for i in self.state.issues.values()))
        author = self.state.user_json(self.base(), user)
        now = jira_time(self.clock())
        comment = {
            "self": f"{self.base()}/rest/api/2/issue/{issue.id}/comment/{comment_id}",
            "id": comment_id,
            "author": author,
            "body": text,
            "updateAuthor": author,
            "created": now,
            "updated": now,
        }
        issue.comments.append(comment)
        issue.updated = self.clock()
        return comment

    # ----- JQL -----
    def field_value(self, issue: Issue | None, name: str) -> Any:
        """A searchable value of an issue; JqlError for unknown fields (checked with issue=None)."""
        name = FIELD_ALIASES.get(name, name)
        custom = {n.lower(): fid for fid, n in self.state.custom_fields.items()}
        if name not in SEARCHABLE and name not in custom and name not in self.state.custom_fields:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        if issue is None:
            return None
        f = issue.fields
        if name == "project":
            return [issue.project, f["project"]["name"], f["project"]["id"]]
        if name == "key":
            return [issue.key, issue.id]
        if name == "text":
            return [f.get("summary") or "", str(f.get("description") or "")] + [
                str(c["body"]) for c in issue.comments
            ]
        if name in ("status", "issuetype", "priority", "assignee", "reporter"):
            return (f.get(name) or {}).get("name")
        if name in ("created", "updated"):
            return jira_time(getattr(issue, name)).replace("T", " ")
        if name == "description":
            return f.get("description") if isinstance(f.get("description"), str) else None
        return f.get(custom.get(name, name))

    def check_value(self, field: str, value: str) -> None:
        """Jira rejects equality on projects that do not exist."""
        if FIELD_ALIASES.get(field, field) == "project" and self.state.project(value) is None:
            raise JqlError(f"The value '{value}' does not exist for the field 'project'.")

    def search(self, jql: str) -> list[Issue]:
        """Issues matching `jql`, in its ORDER BY (default: newest key first)."""
        query = parse(jql, self.field_value, self.check_value)
        found = [i for i in self.state.issues.values() if query.where(i)]

        def sort_key(name: str) -> Callable[[Issue], Any]:
            if name in ("key", "issuekey", "id"):
                return lambda i: (i.project, i.number)
            return lambda i: str(self.field_value(i, name) or "")

        for name, descending in reversed(query.order or [("key", True)]):
            found.sort(key=sort_key(name), reverse=descending)
        return found
