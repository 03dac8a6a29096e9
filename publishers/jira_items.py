"""Action item status read back from Jira: the issues the postmortem publisher created, found by their labels.

Each action item's issue carries `revenant-<incident id>` and its own item label (publishers/jira.py),
so one search per batch of postmortems finds them all; an issue whose status category is "done" is
done, any other is open. Jira being down or refusing is not an error here: those items are left out
of the answer (their status is unknown) and the reason is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from jira import JIRAError
from requests import RequestException

from incident_core.history import ItemStatuses
from incident_core.patterns import ITEM_DONE, ITEM_OPEN, PostmortemRef
from publishers.errors import PublishError
from publishers.jira import JiraPublisher, item_label

log = logging.getLogger("revenant.jira")
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
BATCH = 50  # labels per search (JQL length stays small)


class JiraActionItems:
    """ActionItemTracker over one Jira project (the org's `publishing.jira.project`)."""

    def __init__(self, publisher: JiraPublisher, project: str) -> None:
        if not _PROJECT_KEY.match(project):
            raise PublishError(f"publishing.jira.project must be a Jira project key such as OPS (got {project!r})")
        self.publisher = publisher
        self.project = project

    def statuses(self, org_id: str, postmortems: Sequence[PostmortemRef]) -> ItemStatuses:
        """(incident id, item id) → (open|done, issue key) for every action item found in Jira."""
        wanted = {f"revenant-{pm.incident_id}": pm for pm in postmortems if pm.action_items}
        out: ItemStatuses = {}
        labels = sorted(wanted)
        for start in range(0, len(labels), BATCH):
            try:
                found = self._search(labels[start:start + BATCH])
            except (JIRAError, RequestException, PublishError) as exc:
                log.warning("could not read action items of org %s from Jira: %s", org_id, str(exc)[:300])
                return out
            for key, issue_labels, done in found:
                for incident_label in issue_labels & wanted.keys():
                    pm = wanted[incident_label]
                    for index, item in enumerate(pm.action_items):
                        if item_label({"id": item.item_id}, index) in issue_labels:
                            out[(pm.incident_id, item.item_id)] = (ITEM_DONE if done else ITEM_OPEN, key)
        return out

    def _search(self, labels: Sequence[str]) -> list[tuple[str, set[str], bool]]:
        quoted = ", ".join(f'"{label}"' for label in labels)
        issues = self.publisher.client().search_issues(
            f'project = "{self.project}" AND labels in ({quoted})', maxResults=False, fields="labels,status")
        out = []
        for issue in issues:
            category = getattr(getattr(issue.fields.status, "statusCategory", None), "key", "")
            out.append((issue.key, set(issue.fields.labels or ()), category == "done"))
        return out
