"""The postmortem as Markdown, as the document publishers receive, and split for chat surfaces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incident_core.model import Status
from incident_core.postmortem_check import cite
from incident_core.postmortem_model import SECTIONS
from incident_core.state import IncidentState
from incident_core.timeline import short_actor, with_names

LESSONS = ("went_well", "went_wrong", "lucky")
STATUS_LABEL = {"reviewing": "Key moments reviewed", "draft": "Draft", "submitted": "Submitted for approval",
                "approved": "Approved", "publishing": "Approved, publishing", "published": "Published"}


@dataclass(frozen=True)
class PostmortemDocument:
    """What every publisher receives: the Markdown plus the names that make publishing idempotent."""

    org_id: str
    incident_id: str
    human_id: str
    title: str
    severity: str
    date: str
    markdown: str
    summary: str
    action_items: tuple[dict[str, Any], ...]
    approver: str

    @property
    def slug(self) -> str:
        """`2026-11-27-inc-7`: the file name stem."""
        return f"{self.date}-{self.human_id.lower()}"

    @property
    def path(self) -> str:
        """Where the file lives in a repository."""
        return f"postmortems/{self.slug}.md"

    @property
    def branch(self) -> str:
        """One branch per incident (the incident id keeps it unique across orgs sharing a repo)."""
        return f"revenant/postmortem-{self.human_id.lower()}-{self.incident_id[:8]}"

    @property
    def label(self) -> str:
        """The marker that finds what was already published for this incident (Jira label, Slack text)."""
        return f"revenant-{self.incident_id}"


def _date(state: IncidentState) -> str:
    resolved = state.status_times.get(Status.RESOLVED.value)
    return (datetime.fromisoformat(resolved) if resolved else state.created_at).date().isoformat()


def knowledge_path(state: IncidentState) -> str:
    """Where the knowledge loop indexes the incident's postmortem (PostmortemDocument.path)."""
    return f"postmortems/{_date(state)}-{state.human_id.lower()}.md"


def items_table(items: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[str]:
    """Action items as a Markdown table (citations in the last column)."""
    if not items:
        return ["_No action items yet._"]
    rows = ["| # | Action | Type | Owner | Priority | Due | Source |", "|---|---|---|---|---|---|---|"]
    for i, item in enumerate(items, start=1):
        title = str(item.get("title", "")).replace("|", "\\|")
        owner = short_actor(str(item.get("owner") or "")) or "—"
        rows.append(f"| {i} | {title} | {item.get('kind', '')} | {owner} | {item.get('priority') or '—'} | "
                    f"{item.get('due') or '—'} | {cite(item.get('cites') or ()) or '—'} |")
    return rows


def render_markdown(state: IncidentState, *, sections: dict[str, str] | None = None,
                    action_items: list[dict[str, Any]] | None = None, title: str | None = None) -> str:
    """The postmortem document: metadata table, sections, lessons, action items, citation key."""
    pm = state.postmortem
    sections = sections if sections is not None else dict(pm.get("sections", {}))
    items = action_items if action_items is not None else list(pm.get("action_items", []))
    status = STATUS_LABEL.get(str(pm.get("status", "draft")), "Draft")
    if pm.get("approver"):
        status = f"{status} by {short_actor(str(pm['approver']))}" if status == "Approved" else \
            f"{status} (approved by {short_actor(str(pm['approver']))})"
    lines = [f"# Postmortem: {title or pm.get('title') or state.human_id + ' — ' + state.title}", "",
             "| | |", "|---|---|", f"| Date | {_date(state)} |", f"| Severity | {state.severity.value} |",
             f"| Status | {status} |", f"| Commander | {short_actor(state.commander or '') or '—'} |",
             f"| Incident | {state.human_id} (`{state.incident_id}`) |", ""]
    for key, heading in SECTIONS:
        if key in LESSONS:
            if key == "went_well":
                lines += ["## Lessons learned", ""]
            lines += [f"### {heading}", "", sections.get(key, "").strip() or "_Nothing recorded._", ""]
            continue
        lines += [f"## {heading}", "", sections.get(key, "").strip() or "_Nothing recorded._", ""]
    at = lines.index("## Links")
    lines[at:at] = ["## Action items", "", *items_table(items), ""]
    lines += ["---", f"_Blameless review: it describes systems and conditions, not people's faults. "
              f"`[ev N]` cites event N of {state.human_id}'s timeline "
              f"(`revenant incidents timeline --org ORG {state.human_id} --json`)._", ""]
    return "\n".join(lines)


def document_of(state: IncidentState, names: dict[str, str] | None = None) -> PostmortemDocument:
    """The approved postmortem as publishers receive it, people shown by their display names."""
    pm = state.postmortem
    named = (lambda text: with_names(text, names)) if names else (lambda text: text)
    summary = named(str(pm.get("sections", {}).get("summary", "")).strip())
    return PostmortemDocument(
        org_id=state.org_id, incident_id=state.incident_id, human_id=state.human_id,
        title=str(pm.get("title") or f"{state.human_id} — {state.title}"), severity=state.severity.value,
        date=_date(state), markdown=named(render_markdown(state)), summary=summary,
        action_items=tuple({**i, "owner": named(str(i.get("owner") or ""))} if i.get("owner") else dict(i)
                           for i in pm.get("action_items", [])),
        approver=named(str(pm.get("approver") or "")))


def split_text(text: str, limit: int) -> list[str]:
    """Split at line breaks into chunks of at most `limit` characters (a longer line is cut)."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks
