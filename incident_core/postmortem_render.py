"""The postmortem as a rich-text document (publishers render it as Markdown or Jira markup), and split for chat.

Section texts are what people edit: lines, `- ` bullets, whole-line `_…_` prompts for the reviewers
(see postmortem_check.is_guidance) and code spans between backtick runs (postmortem_check.code).
That is all the structure read from them; every other character is text, so a quoted alert title
cannot add a heading, a link or a mention to the document (at most a code span, shown verbatim).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from incident_core import richtext as rt
from incident_core.model import Status
from incident_core.postmortem_check import cite, is_guidance
from incident_core.postmortem_model import SECTIONS
from incident_core.state import IncidentState
from incident_core.timeline import short_actor, with_names

LESSONS = ("went_well", "went_wrong", "lucky")
STATUS_LABEL = {"reviewing": "Key moments reviewed", "draft": "Draft", "submitted": "Submitted for approval",
                "approved": "Approved", "publishing": "Approved, publishing", "published": "Published"}


@dataclass(frozen=True)
class PostmortemDocument:
    """What every publisher receives: the document plus the names that make publishing idempotent."""

    org_id: str
    incident_id: str
    human_id: str
    title: str
    severity: str
    date: str
    content: rt.Rich
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


_CODE_RUN = re.compile(r"`+")


def with_code(line: str) -> tuple[rt.Inline, ...]:
    """A line's text with its code spans (a backtick run closed by a run of the same length) as Code."""
    parts: list[rt.Inline] = []
    at = 0
    for opening in _CODE_RUN.finditer(line):
        if opening.start() < at:
            continue
        closing = next((m for m in _CODE_RUN.finditer(line, opening.end()) if len(m.group()) == len(opening.group())),
                       None)
        if closing is None:
            continue
        body = line[opening.end():closing.start()]
        if body.startswith(" ") and body.endswith(" ") and body.strip():
            body = body[1:-1]
        parts += [*rt.inline(line[at:opening.start()]), rt.Code(body)]
        at = closing.end()
    return (*parts, *rt.inline(line[at:]))


def section_blocks(text: str) -> tuple[rt.Block, ...]:
    """A section's text as blocks: `- ` lines a list, whole-line `_…_` an emphasized prompt, the rest paragraphs."""
    blocks: list[rt.Block] = []
    rows: list[tuple[rt.Inline, ...]] = []
    items: list[tuple[rt.Inline, ...]] = []

    def flush() -> None:
        if rows:
            blocks.append(rt.lines(*rows))
            rows.clear()
        if items:
            blocks.append(rt.Bullets(tuple(items)))
            items.clear()

    for line in text.strip().splitlines():
        stripped = line.strip()
        if stripped.startswith(("- ", "* ")):
            if rows:
                flush()
            items.append(with_code(stripped[2:].strip()))
        elif stripped and is_guidance(stripped) and not stripped.startswith("#") and len(stripped) > 2:
            flush()
            blocks.append(rt.para(rt.em(with_code(stripped[1:-1]))))
        elif stripped:
            if items:
                flush()
            rows.append(with_code(stripped))
        else:
            flush()
    flush()
    return tuple(blocks) or (rt.para(rt.em("Nothing recorded.")),)


def items_table(items: Sequence[Mapping[str, Any]],
                named: Any = lambda text: text) -> rt.Block:
    """Action items as a table (citations in the last column)."""
    if not items:
        return rt.para(rt.em("No action items yet."))
    header = tuple(rt.inline(h) for h in ("#", "Action", "Type", "Owner", "Priority", "Due", "Source"))
    rows = []
    for i, item in enumerate(items, start=1):
        owner = named(short_actor(str(item.get("owner") or ""))) or "—"
        cells = (str(i), str(item.get("title", "")), str(item.get("kind", "")), owner, item.get("priority") or "—",
                 item.get("due") or "—", cite(item.get("cites") or ()) or "—")
        rows.append(tuple(rt.inline(rt.one_line(str(c), 500)) for c in cells))
    return rt.Table(header, tuple(rows))


def render_document(state: IncidentState, *, sections: dict[str, str] | None = None,
                    action_items: Sequence[Mapping[str, Any]] | None = None, title: str | None = None,
                    names: dict[str, str] | None = None) -> rt.Rich:
    """The postmortem document: metadata table, sections, lessons, action items, citation key."""
    named = (lambda text: with_names(text, names)) if names else (lambda text: text)
    pm = state.postmortem
    sections = sections if sections is not None else dict(pm.sections)
    items = action_items if action_items is not None else list(pm.action_items)
    status = STATUS_LABEL.get(str(pm.status or "draft"), "Draft")
    if pm.approver:
        approver = named(short_actor(pm.approver))
        status = f"{status} by {approver}" if status == "Approved" else f"{status} (approved by {approver})"
    meta = (("Date", _date(state)), ("Severity", state.severity.value), ("Status", status),
            ("Commander", named(short_actor(state.commander or "")) or "—"))
    rows = [(rt.inline(k), rt.inline(v)) for k, v in meta]
    rows.append((rt.inline("Incident"), rt.inline(f"{state.human_id} (", rt.code(state.incident_id), ")")))
    heading = title or pm.title or f"{state.human_id} — {state.title}"
    blocks: list[rt.Block] = [rt.Heading(rt.inline(f"Postmortem: {rt.one_line(str(heading), 300)}"), 1),
                              rt.Table(((), ()), tuple(rows))]
    for key, name in SECTIONS:
        if key == "links":
            blocks += [rt.Heading(rt.inline("Action items"), 2), items_table(items, named)]
        if key == "went_well":
            blocks.append(rt.Heading(rt.inline("Lessons learned"), 2))
        blocks.append(rt.Heading(rt.inline(name), 3 if key in LESSONS else 2))
        blocks += section_blocks(named(sections.get(key, "")))
    blocks += [rt.Rule(), rt.para(rt.em(
        "Blameless review: it describes systems and conditions, not people's faults. ", rt.code("[ev N]"),
        f" cites event N of {state.human_id}'s timeline (",
        rt.code(f"revenant incidents timeline --org ORG {state.human_id} --json"), ")."))]
    return rt.Rich(tuple(blocks))


def document_of(state: IncidentState, names: dict[str, str] | None = None) -> PostmortemDocument:
    """The approved postmortem as publishers receive it, people shown by their display names."""
    pm = state.postmortem
    named = (lambda text: with_names(text, names)) if names else (lambda text: text)
    summary = named(pm.sections.get("summary", "").strip())
    return PostmortemDocument(
        org_id=state.org_id, incident_id=state.incident_id, human_id=state.human_id,
        title=pm.title or f"{state.human_id} — {state.title}", severity=state.severity.value,
        date=_date(state), content=render_document(state, names=names), summary=summary,
        action_items=tuple({**i, "owner": named(str(i.get("owner") or ""))} if i.get("owner") else dict(i)
                           for i in pm.action_items),
        approver=named(pm.approver or ""))


def split_text(text: str, limit: int, at: Callable[[str, int], int] | None = None) -> list[str]:
    """Split at line breaks into chunks of at most `limit` characters; a longer line is cut where `at` says
    (by default at `limit`; a renderer passes a cut that splits no escape)."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            end = max(1, at(line, limit) if at else limit)
            chunks.append(line[:end])
            line = line[end:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks
