"""The knowledge loop's port over the org's knowledge base (incident_core.services.knowledge_loop.KnowledgeIndex)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from incident_core.events import Event
from incident_core.state import IncidentState
from knowledge.incident_doc import index_incident


class KnowledgeLoopIndex:
    """Writes resolved incidents (neutralised, see incident_doc.py) and published postmortems into an org's
    knowledge; re-indexing a document replaces it."""

    def __init__(self, kb: Any) -> None:
        self.kb = kb

    def index_incident(self, state: IncidentState, events: Sequence[Event], *, project: str | None) -> int:
        return index_incident(self.kb, state, events, project=project)

    def index_postmortem(self, org_id: str, doc_id: str, title: str, markdown: str, *, project: str | None,
                         service: str | None) -> int:
        return int(self.kb.index_document(org_id, doc_id, title, markdown, kind="postmortem", project=project,
                                          service=service))
