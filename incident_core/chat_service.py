"""Platform-neutral handling of chat commands: every chat adapter turns its payload into these calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from incident_core import postmortem_usecases as pmu
from incident_core import usecases as uc
from incident_core import warroom
from incident_core.chat_commands import USAGE, Intent
from incident_core.errors import NotFound
from incident_core.events import NoteAdded
from incident_core.model import Severity
from incident_core.ports import IncidentQueries
from incident_core.state import IncidentState
from incident_core.timeline import render


@dataclass(frozen=True)
class ChatContext:
    """Who typed the command, where, for which org (resolved by the adapter's middleware)."""

    org_id: str
    platform: str
    user: str
    room_id: str | None = None
    incident_id: str | None = None
    project_id: str | None = None  # the project the room belongs to, when the platform maps rooms to projects

    def mention(self, user: str) -> str:
        """How the platform writes a mention (`<@U123>` on Slack)."""
        bare = user.split(":", 1)[1] if ":" in user else user
        return f"<@{bare}>" if self.platform == "slack" else bare

    def qualify(self, user: str) -> str:
        """A platform user id as stored on the timeline (`slack:U123`)."""
        return user if ":" in user else f"{self.platform}:{user}"


@dataclass(frozen=True)
class Reply:
    """What to show: ephemeral by default; `in_channel` for text meant for everyone."""

    text: str
    in_channel: bool = False
    incident: IncidentState | None = None
    open_declare_form: bool = False
    content: object | None = None  # structured content a platform renders instead of `text` (a PatternReport)


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
                return Reply("", open_declare_form=True)
            result = uc.declare_incident(
                deps=self.deps, org_id=ctx.org_id, actor=ctx.user, title=intent.title,
                severity=intent.severity or Severity.SEV3, project_id=project_id, commander=ctx.user,
                idempotency_key=idempotency_key)
            s = result.state
            return Reply(f"Declared *{s.human_id}* {s.title} ({s.severity.value}); you are the commander. "
                         "Opening its channel…", in_channel=True, incident=s)
        if self.extra and intent.name in self.extra:
            return self.extra[intent.name](intent, ctx)
        if intent.name == "postmortem":
            view = pmu.draft_postmortem(deps=self.deps, queries=self.queries, org_id=ctx.org_id,
                                        incident_id=self._incident(ctx).incident_id, actor=ctx.user)
            return Reply(pmu.summary_text(view), incident=view.state)
        if intent.name in ("suggest", "patterns"):
            return Reply(f"`/revenant {intent.name}` is not enabled in this deployment.")
        state = self._incident(ctx)
        return self._incident_command(intent, ctx, state, idempotency_key)

    def _incident_command(self, intent: Intent, ctx: ChatContext, state: IncidentState,
                          key: str | None) -> Reply:
        base = {"deps": self.deps, "org_id": ctx.org_id, "incident_id": state.incident_id, "actor": ctx.user,
                "idempotency_key": key}
        now = self.deps.clock.now()
        if intent.name == "status":
            assert intent.status is not None
            s = uc.change_status(**base, status=intent.status, note=intent.text).state
            return Reply(f"{s.human_id} is now *{s.status.value}*" + (f": {intent.text}" if intent.text else ""),
                         in_channel=True, incident=s)
        if intent.name == "sev":
            assert intent.severity is not None
            s = uc.change_severity(**base, severity=intent.severity).state
            return Reply(f"{s.human_id} is now *{s.severity.value}*", in_channel=True, incident=s)
        if intent.name == "role":
            assert intent.role is not None and intent.user is not None
            s = uc.assign_role(**base, role=intent.role, assignee=ctx.qualify(intent.user)).state
            return Reply(f"{ctx.mention(intent.user)} is now the {intent.role.value} of {s.human_id}", in_channel=True,
                         incident=s)
        if intent.name == "note":
            s = uc.add_note(**base, text=intent.text).state
            return Reply(f"Noted on {s.human_id}'s timeline.", incident=s)
        events = self.queries.timeline(ctx.org_id, state.incident_id)
        notes = [e.text for e in events if isinstance(e, NoteAdded)]
        if intent.name == "timeline":
            lines = render(events)
            shown = lines[-40:]
            more = f"_(showing the last {len(shown)} of {len(lines)} entries)_\n" if len(lines) > len(shown) else ""
            return Reply(f"*{state.human_id} timeline*\n{more}```" + "\n".join(shown) + "```")
        if intent.name == "catchup":
            return Reply(warroom.catchup(state, notes, now))
        if intent.name == "update":
            return Reply(warroom.status_update(state, notes, now) +
                         "\n_Draft only: copy, edit and post it where your stakeholders read._")
        raise NotFound(f"unknown command {intent.name}")

    def _incident(self, ctx: ChatContext) -> IncidentState:
        state = self.queries.get(ctx.org_id, ctx.incident_id) if ctx.incident_id else None
        if state is None:
            raise NotFound("this is not an incident channel: run the command in the incident's channel, "
                           "or `/revenant list` to find it")
        return state

    def _list(self, ctx: ChatContext) -> str:
        items = self.queries.list(ctx.org_id, open_only=True)
        if not items:
            return "No open incidents. :tada:"
        now = self.deps.clock.now()
        return "*Open incidents*\n" + "\n".join(
            f"• *{s.human_id}* {s.severity.value} {s.status.value} — {s.title} ({warroom.duration(s, now)})"
            + (f" <#{s.rooms['slack']['room_id']}>" if ctx.platform == "slack" and "slack" in s.rooms else "")
            for s in items)
