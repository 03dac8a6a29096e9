"""The Teams room keeper: opens an incident's thread in its channel and keeps the war-room card current."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from bot.bootstrap import App
from bot.teams_wiring import auth_settings, build_adapter
from handlers.teams.ids import PLATFORM
from handlers.teams.outbound import TeamsChat
from incident_core import postmortem_usecases as pmu
from incident_core.org_settings import ChatSettings
from incident_core.rooms import ensure_room, plan_for, refresh_room
from incident_core.state import IncidentState
from storage.outbox import PendingMessage
from storage.teams_conversations import SqlTeamsConversations

log = logging.getLogger("revenant.teams")
ORIGIN_WINDOW = timedelta(minutes=10)


class TeamsRoomKeeper:
    """Outbox subscriber (`incident.changed`), the Teams twin of SlackRoomKeeper.

    The thread opens in the first channel that applies: the incident's project `teams_channel`,
    the org's `teams.incident_channel`, else the channel the incident was declared from in Teams.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        self.adapter = build_adapter(app)
        self.app_id = str(auth_settings(app).APP_ID)
        self.store = SqlTeamsConversations(app.engine)

    def chat(self, org_id: str) -> TeamsChat:
        """The outbound Teams adapter for one org."""
        return TeamsChat(self.adapter, app_id=self.app_id, org_id=org_id, store=self.store,
                         channel_for=lambda state: self.channel_for(org_id, state),
                         names=lambda: self.app.directory.display_names(org_id))

    def channel_for(self, org_id: str, state: IncidentState) -> str | None:
        """The incident channel for this incident, or None when none is configured or known."""
        project = self.app.directory.project(org_id, state.project_id) if state.project_id else None
        if project is not None and project.config.teams_channel:
            return project.config.teams_channel
        configured = self._settings(org_id).incident_channel
        if configured:
            return str(configured)
        origin = self.store.declare_origin(org_id, state.declared_by) if state.declared_by else None
        if origin is not None and abs(origin[1] - state.created_at) <= ORIGIN_WINDOW:
            return origin[0]
        return None

    def __call__(self, msg: PendingMessage) -> None:
        org_id = msg.org_id
        if not self.app.directory.bindings(org_id, PLATFORM):
            return
        incident_id = str(msg.payload["incident_id"])
        state = self.app.queries.get(org_id, incident_id)
        if state is None:
            return
        chat = self.chat(org_id)
        if PLATFORM in state.rooms:
            refresh_room(deps=self.app.deps, queries=self.app.queries, chat=chat, org_id=org_id,
                         incident_id=incident_id)
            return
        settings = self._settings(org_id)
        project = self.app.directory.project(org_id, state.project_id) if state.project_id else None
        auto = project.config.auto_channel if project else bool(settings.auto_channel)
        if not (state.source == "chat" or auto):
            return
        if self.channel_for(org_id, state) is None:
            log.info("%s has no Teams incident channel yet; `revenant teams channel` sets one", state.human_id)
            return
        plan = plan_for(state, responders=[], announce_to=settings.announce_channel)
        ensure_room(deps=self.app.deps, queries=self.app.queries, chat=chat, deliveries=self.app.deliveries,
                    org_id=org_id, incident_id=incident_id, plan=plan)

    def _settings(self, org_id: str) -> ChatSettings:
        return self.app.directory.require_org(org_id).config.teams


class TeamsNotices:
    """Outbox subscriber for chat notices (reminders, postmortem drafts, publishing results): a thread reply,
    posted once per message key (claimed and recorded)."""

    def __init__(self, app: App, keeper: TeamsRoomKeeper) -> None:
        self.app = app
        self.keeper = keeper

    def __call__(self, msg: PendingMessage) -> None:
        state = self.app.queries.get(msg.org_id, str(msg.payload["incident_id"]))
        room = state.rooms.get("teams") if state else None
        if state is None or not room or not room.room_id:
            return
        chat, thread = self.keeper.chat(msg.org_id), str(room.room_id)
        self.app.deliveries.once(msg.org_id, f"notice:teams:{msg.key}", f"a notice for {state.human_id}",
                                 lambda: {"id": chat.post(thread, pmu.notice_content(msg.payload))})


def add_teams_subscribers(app: App, subs: dict[str, list[Callable[[PendingMessage], None]]]) -> None:
    """When Teams is served: the room keeper, guidance posting, and guidance offers if Slack does not add them."""
    from bot.guidance_wiring import GuidanceOfferer
    from bot.slack_wiring import slack_enabled
    from bot.teams_guidance import TeamsGuidancePosting
    from bot.teams_wiring import teams_enabled
    from incident_core.guidance_usecases import TOPIC
    from incident_core.postmortem_usecases import NOTICE

    if not teams_enabled(app):
        return
    keeper = TeamsRoomKeeper(app)
    subs.setdefault("incident.changed", []).append(keeper)
    if not slack_enabled(app):  # guidance_wiring registers the offerer only with Slack; rooms exist here too
        subs["incident.changed"].append(GuidanceOfferer(app))
    subs.setdefault(TOPIC, []).append(TeamsGuidancePosting(app, keeper))
    subs.setdefault(NOTICE, []).append(TeamsNotices(app, keeper))
