"""Jira: one issue for the postmortem and one per action item, linked to it.

Issues carry the label `revenant-<incident id>` (plus `revenant-postmortem` or `revenant-ai-<n>`), and
every attempt searches by that label before creating, so a retry finds what an earlier attempt made.
The client's own retries are off (`max_retries=0`): a retried POST inside the client would skip that
lookup, so every retry goes back through the outbox, lookup first.
"""

from __future__ import annotations

import re
from typing import Any

from jira import JIRA, JIRAError

from incident_core.postmortem_render import PostmortemDocument
from incident_core.publishing import Publication
from publishers.errors import PublishError

PM_LABEL = "revenant-postmortem"
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


def item_label(item: dict[str, Any], index: int) -> str:
    """The label that marks one action item's issue (unique within its incident)."""
    return "revenant-" + (_SAFE.sub("-", str(item.get("id") or f"ai-{index + 1}")) or f"ai-{index + 1}")


class JiraPublisher:
    """Publisher port over the `jira` client; `config` is `{project: OPS, issue_type: Task, link_type: Relates}`."""

    def __init__(self, server: str, user: str | None, token: str, *, timeout: float = 15,
                 client: JIRA | None = None) -> None:
        self.server = server.rstrip("/")
        self._auth = (user, token)
        self._timeout = timeout
        self._client = client

    def _jira(self) -> JIRA:
        if self._client is None:
            user, token = self._auth
            auth: dict[str, Any] = {"basic_auth": (user, token)} if user else {"token_auth": token}
            try:
                self._client = JIRA(server=self.server, max_retries=0, timeout=self._timeout, **auth)
            except JIRAError as exc:
                raise PublishError(f"cannot reach Jira at {self.server} (HTTP {exc.status_code}): check JIRA_URL, "
                                   "JIRA_USER and JIRA_TOKEN") from None
        return self._client

    def client(self) -> JIRA:
        """The connected client (built on first use)."""
        return self._jira()

    def publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        """Find or create the postmortem issue and one issue per action item, then link them."""
        client = self._jira()
        project = str(config["project"])
        existing = self._existing(client, project, doc.label)
        pm = existing.get(PM_LABEL) or self._create(client, {
            "project": {"key": project}, "issuetype": {"name": str(config.get("issue_type", "Task"))},
            "summary": f"Postmortem: {doc.title}"[:255], "labels": ["revenant", doc.label, PM_LABEL],
            "description": doc.markdown[:30000]})
        linked = self._linked(client, pm.key)
        keys = []
        for i, item in enumerate(doc.action_items):
            label = item_label(item, i)
            issue = existing.get(label) or self._create(client, {
                "project": {"key": project},
                "issuetype": {"name": str(config.get("action_issue_type", config.get("issue_type", "Task")))},
                "summary": str(item.get("title", ""))[:255], "labels": ["revenant", doc.label, label],
                "description": self._item_text(doc, item, pm.key)})
            keys.append(issue.key)
            if issue.key not in linked:
                client.create_issue_link(str(config.get("link_type", "Relates")), pm.key, issue.key)
                linked.add(issue.key)
        ref = pm.key + (f" (action items: {', '.join(keys)})" if keys else "")
        return Publication(url=f"{self.server}/browse/{pm.key}", ref=ref[:200])

    @staticmethod
    def _existing(client: JIRA, project: str, label: str) -> dict[str, Any]:
        try:
            found = client.search_issues(f'project = "{project}" AND labels = "{label}"', maxResults=100)
        except JIRAError as exc:
            if exc.status_code in (400, 404):
                raise PublishError(f"Jira refused the search in project {project} ({exc.text}); check "
                                   "publishing.jira.project") from None
            raise
        out: dict[str, Any] = {}
        for issue in found:
            for name in issue.fields.labels or ():
                if name.startswith("revenant-") and name != label:
                    out.setdefault(name, issue)
        return out

    @staticmethod
    def _create(client: JIRA, fields: dict[str, Any]) -> Any:
        try:
            return client.create_issue(fields=fields)
        except JIRAError as exc:
            if exc.status_code == 400:
                raise PublishError(f"Jira rejected the issue: {exc.text}; check publishing.jira "
                                   "(project key, issue type names)") from None
            raise

    @staticmethod
    def _linked(client: JIRA, key: str) -> set[str]:
        linked = set()
        for link in getattr(client.issue(key).fields, "issuelinks", None) or ():
            for side in ("outwardIssue", "inwardIssue"):
                other = getattr(link, side, None)
                if other is not None:
                    linked.add(other.key)
        return linked

    @staticmethod
    def _item_text(doc: PostmortemDocument, item: dict[str, Any], pm_key: str) -> str:
        return (f"Action item from the postmortem of {doc.human_id} ({pm_key}).\n\n"
                f"Owner: {item.get('owner') or '—'}\nPriority: {item.get('priority') or '—'}\n"
                f"Due: {item.get('due') or '—'}\nType: {item.get('kind') or '—'}")
