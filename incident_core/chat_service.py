"""Platform-neutral handling of chat commands: every chat adapter turns its payload into these calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from incident_core import postmortem_usecases as pmu
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core import warroom
from incident_core.chat_commands import USAGE, Intent
from incident_core.errors import NotFound
from incident_core.events import NoteAdded
from incident_core.model import Severity
from incident_core.ports import IncidentQueries
from incident_core.state import IncidentState
from incident_core.timeline import render


class _CommandArgs(TypedDict):
    """What every incident use case a chat command runs takes."""

    deps: uc.Deps
    org_id: str
    incident_id: str
    actor: str
    idempotency_key: str | None


@dataclass(frozen=True)
class ChatContext:
    """Who typed the command, where, for which org (resolved by the adapter's middleware)."""

    org_id: str
    platform: str
    user: str
    room_id: str | None = None
    incident_id: str | None = None
    project_id: str | None = None  # the project the room belongs to, when the platform maps rooms to projects

    def qualify(self, user: str) -> str:
        """A platform user id as stored on the timeline (`slack:U123`)."""
        return user if ":" in user else f"{self.platform}:{user}"


@dataclass(frozen=True)
class Reply:
    """What to show: ephemeral by default; `in_channel` for text meant for everyone."""

    content: rt.Rich
    in_channel: bool = False
    incident: IncidentState | None = None
    open_declare_form: bool = False
    report: object | None = None  # a structured report a platform renders instead of `content` (a PatternReport)

    @property
    def text(self) -> str:
        """The reply as plain text (logs, tests, text-only surfaces)."""
        return self.content.plain()


@dataclass(frozen=True)
class ChatService:
    """The commands of `/revenant`, over the use cases and the read side."""

    deps: uc.Deps
    queries: IncidentQueries
    extra: dict[str, Callable[[Intent, ChatContext], Reply]] | None = None

    def handle(self, intent: Intent, ctx: ChatContext, *, project_id: str | None = None,
               idempotency_key: str | None = None) -> Reply:
        """Run one command; domain errors propagate for the adapter's error handler."""
        if intent.name == "help":
            return Reply(USAGE)
        if intent.name == "list":
            return Reply(self._list(ctx))
        if intent.name == "declare":
            if not intent.title:
                return Reply(rt.Rich(), open_declare_form=True)
            result = uc.declare_incident(
                deps=self.deps, org_id=ctx.org_id, actor=ctx.user, title=intent.title,
                severity=intent.severity or Severity.SEV3, project_id=project_id, commander=ctx.user,
                idempotency_key=idempotency_key)
            s = result.state
            return Reply(rt.doc(rt.para("Declared ", rt.b(s.human_id), f" {s.title} ({s.severity.value}); you are the "
                                        "commander. Opening its ", rt.term("room"), "…")), in_channel=True, incident=s)
        if self.extra and intent.name in self.extra:
            return self.extra[intent.name](intent, ctx)
        if intent.name == "postmortem":
            view = pmu.draft_postmortem(deps=self.deps, queries=self.queries, org_id=ctx.org_id,
                                        incident_id=self._incident(ctx).incident_id, actor=ctx.user)
            return Reply(pmu.summary_text(view), incident=view.state)
        if intent.name in ("suggest", "patterns"):
            return Reply(rt.doc(rt.para(rt.cmd(intent.name), " is not enabled in this deployment.")))
        state = self._incident(ctx)
        return self._incident_command(intent, ctx, state, idempotency_key)

    def _incident_command(self, intent: Intent, ctx: ChatContext, state: IncidentState,
                          key: str | None) -> Reply:
        base = _CommandArgs(deps=self.deps, org_id=ctx.org_id, incident_id=state.incident_id, actor=ctx.user,
                            idempotency_key=key)
        now = self.deps.clock.now()
        if intent.name == "status":
            assert intent.status is not None
            s = uc.change_status(**base, status=intent.status, note=intent.text).state
            note = f": {intent.text}" if intent.text else ""
            return Reply(rt.doc(rt.para(f"{s.human_id} is now ", rt.b(s.status.value), note)), in_channel=True,
                         incident=s)
        if intent.name == "sev":
            assert intent.severity is not None
            s = uc.change_severity(**base, severity=intent.severity).state
            return Reply(rt.doc(rt.para(f"{s.human_id} is now ", rt.b(s.severity.value))), in_channel=True, incident=s)
        if intent.name == "role":
            assert intent.role is not None and intent.user is not None
            assignee = ctx.qualify(intent.user)
            s = uc.assign_role(**base, role=intent.role, assignee=assignee).state
            return Reply(rt.doc(rt.para(rt.mention(assignee, intent.user.split(":", 1)[-1]),
                                        f" is now the {intent.role.value} of {s.human_id}")), in_channel=True, incident=s)
        if intent.name == "note":
            s = uc.add_note(**base, text=intent.text).state
            return Reply(rt.doc(f"Noted on {s.human_id}'s timeline."), incident=s)
        events = self.queries.timeline(ctx.org_id, state.incident_id)
        notes = [e.text for e in events if isinstance(e, NoteAdded)]
        if intent.name == "timeline":
            lines = render(events)
            shown = lines[-40:]
            more = rt.para(rt.em(f"(showing the last {len(shown)} of {len(lines)} entries)")) \
                if len(lines) > len(shown) else None
            return Reply(rt.doc(rt.para(rt.b(f"{state.human_id} timeline")), more, rt.CodeBlock("\n".join(shown))))
        if intent.name == "catchup":
            return Reply(warroom.catchup(state, notes, now))
        if intent.name == "update":
            return Reply(warroom.status_update(state, notes, now) +
                         rt.doc(rt.para(rt.em("Draft only: copy, edit and post it where your stakeholders read."))))
        raise NotFound(f"unknown command {intent.name}")

    def _incident(self, ctx: ChatContext) -> IncidentState:
        state = self.queries.get(ctx.org_id, ctx.incident_id) if ctx.incident_id else None
        if state is None:
            raise NotFound(rt.doc(rt.para("this is not an incident ", rt.term("room"), ": run the command in the "
                                          "incident's ", rt.term("room"), ", or ", rt.cmd("list"), " to find it")))
        return state

    def _list(self, ctx: ChatContext) -> rt.Rich:
        items = self.queries.list_incidents(ctx.org_id, open_only=True)
        if not items:
            return rt.doc(rt.para("No open incidents. ", rt.emoji("tada")))
        now = self.deps.clock.now()
        rows = []
        for s in items:
            room = s.rooms.get(ctx.platform)
            link = (" ", rt.Room(ctx.platform, room.room_id, room.name)) \
                if ctx.platform == "slack" and room and room.room_id else ()
            rows.append((rt.b(s.human_id), f" {s.severity.value} {s.status.value} — {s.title} "
                         f"({warroom.duration(s, now)})", link))
        return rt.doc(rt.para(rt.b("Open incidents")), rt.bullets(*rows))
