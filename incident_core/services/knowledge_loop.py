"""The knowledge loop: what the org learns from its incidents. A resolved incident is indexed into the org's
knowledge, and every approved postmortem is published to it as well (a target of its own, always on), so the
next incident's guidance can cite both."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from incident_core import richtext as rt
from incident_core.events import Event
from incident_core.ports import Directory, IncidentQueries
from incident_core.postmortem_render import PostmortemDocument
from incident_core.publishing import Publication
from incident_core.state import IncidentState

log = logging.getLogger("revenant.knowledge_loop")


class KnowledgeIndex(Protocol):
    """The org's knowledge, as the loop writes it (knowledge/learning.py implements it over Chroma)."""

    def index_incident(self, state: IncidentState, events: Sequence[Event], *, project: str | None) -> int:
        """Index (or re-index) a resolved incident; sections written (0 when unchanged)."""
        ...

    def index_postmortem(self, org_id: str, doc_id: str, title: str, markdown: str, *, project: str | None,
                         service: str | None) -> int:
        """Index (or re-index) a published postmortem; sections written."""
        ...


def learns_from(state: IncidentState) -> bool:
    """Whether the incident's record goes into the knowledge now: once it is resolved (or closed)."""
    return state.status.value in ("resolved", "closed")


def project_name(directory: Directory, state: IncidentState) -> str | None:
    project = directory.project(state.org_id, state.project_id) if state.project_id else None
    return project.name if project is not None else None


def learn_from_incident(*, queries: IncidentQueries, directory: Directory, index: KnowledgeIndex,
                        state: IncidentState) -> int:
    """Index a resolved incident (its timeline) into its org's knowledge; sections written."""
    events = queries.timeline(state.org_id, state.incident_id)
    written = index.index_incident(state, events, project=project_name(directory, state))
    if written:
        log.info("indexed %s into org %s's knowledge", state.human_id, state.org_id)
    return written


class KnowledgeTarget:
    """The `knowledge` publishing target (publishing.targets_for always lists it): the approved postmortem
    is indexed into its org's knowledge as Markdown."""

    def __init__(self, *, queries: IncidentQueries, directory: Directory, index: Callable[[], KnowledgeIndex],
                 to_markdown: Callable[[rt.Rich], str]) -> None:
        self.queries, self.directory, self.index, self.to_markdown = queries, directory, index, to_markdown

    def publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        state = self.queries.get(doc.org_id, doc.incident_id)
        project = project_name(self.directory, state) if state is not None else None
        service = state.services[0] if state is not None and state.services else None
        sections = self.index().index_postmortem(doc.org_id, f"postmortems/{doc.slug}.md", f"Postmortem {doc.title}",
                                                 self.to_markdown(doc.content), project=project, service=service)
        return Publication(url=f"knowledge://{doc.org_id}/postmortems/{doc.slug}", ref=f"{sections} sections")
