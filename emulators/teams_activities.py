"""The Teams channel service's side: activities POSTed to a bot's /api/messages, signed by the local issuer.

Activities come from `BotConnectorEmulator.message_activity` (serviceUrl, tenant, team and channel
data as Teams sends them), so the bot's replies land in the same emulator. With an app id every
request carries `Authorization: Bearer <connector.issue_token(app_id)>`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from emulators.bot_connector import BotConnectorEmulator
from emulators.bot_connector_state import Member

UNSIGNED = ""


@dataclass
class Delivery:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class TeamsSender:
    """Posts to `{app_url}/api/messages` as Teams would, for the connector emulator's tenant."""

    app_url: str
    connector: BotConnectorEmulator
    app_id: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    timeout: float = 30.0

    @property
    def bot_id(self) -> str:
        """The bot's Teams id (`28:<app id>`)."""
        return f"28:{self.app_id}"

    # --- transport ------------------------------------------------------------------------
    def post(self, activity: dict[str, Any], *, token: str | None = None) -> Delivery:
        """POST one activity; `token=None` signs it when the sender has an app id, UNSIGNED sends no header."""
        headers = {"Content-Type": "application/json"}
        bearer = token if token is not None else (self.connector.issue_token(self.app_id) if self.app_id else "")
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        self.sent.append(activity)
        req = urllib.request.Request(f"{self.app_url}/api/messages", data=json.dumps(activity).encode(),
                                     method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return Delivery(r.status, r.read().decode(), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Delivery(e.code, e.read().decode(), dict(e.headers))

    # --- activities -----------------------------------------------------------------------
    def mention(self, member: Member) -> tuple[str, dict[str, Any]]:
        """`<at>Name</at>` text and its mention entity, to put in a message."""
        text = f"<at>{member.name}</at>"
        return text, {"type": "mention", "text": text, "mentioned": {"id": member.id, "name": member.name}}

    def command(self, member: Member, conversation_id: str, text: str, *, mentions: tuple[Member, ...] = (),
                tenant_id: str | None = None) -> tuple[Delivery, dict[str, Any]]:
        """`@Revenant <text>` in a channel, thread or chat; `@Name` in text is made a real mention of `mentions`."""
        bot = f"<at>{self.connector.bot_name}</at>"
        entities = [{"type": "mention", "text": bot, "mentioned": {"id": self.bot_id, "name": self.connector.bot_name}}]
        for person in mentions:
            shown, entity = self.mention(person)
            text = text.replace(f"@{person.name}", shown)
            entities.append(entity)
        activity = self.connector.message_activity(conversation_id, f"{bot} {text}", member, app_id=self.app_id)
        activity["entities"] = entities
        _retenant(activity, tenant_id)
        return self.post(activity), activity

    def message(self, member: Member, conversation_id: str, text: str) -> tuple[Delivery, dict[str, Any]]:
        """A plain message (in a thread: a reply), not addressed to the bot."""
        activity = self.connector.message_activity(conversation_id, text, member, app_id=self.app_id)
        return self.post(activity), activity

    def reaction(self, member: Member, conversation_id: str, message_id: str, kind: str = "like", *,
                 removed: bool = False) -> tuple[Delivery, dict[str, Any]]:
        """A messageReaction activity on `message_id`."""
        activity = self._event(member, conversation_id, "messageReaction")
        activity["reactionsRemoved" if removed else "reactionsAdded"] = [{"type": kind}]
        activity["replyToId"] = message_id
        return self.post(activity), activity

    def edit(self, member: Member, conversation_id: str, message_id: str, text: str) -> Delivery:
        """A messageUpdate (editMessage) activity for `message_id`."""
        activity = self._event(member, conversation_id, "messageUpdate", event_type="editMessage")
        activity.update({"id": message_id, "text": text})
        return self.post(activity)

    def delete(self, member: Member, conversation_id: str, message_id: str) -> Delivery:
        """A messageDelete (softDeleteMessage) activity for `message_id`."""
        activity = self._event(member, conversation_id, "messageDelete", event_type="softDeleteMessage")
        activity["id"] = message_id
        return self.post(activity)

    def execute(self, member: Member, conversation_id: str, message_id: str, verb: str,
                data: dict[str, Any] | None = None, *, tenant_id: str | None = None) -> tuple[Delivery, dict[str, Any]]:
        """An Action.Execute click (`adaptiveCard/action` invoke) on the card `message_id`."""
        activity = self.execute_activity(member, conversation_id, message_id, verb, data, tenant_id=tenant_id)
        return self.post(activity), activity

    def execute_activity(self, member: Member, conversation_id: str, message_id: str, verb: str,
                         data: dict[str, Any] | None = None, *, tenant_id: str | None = None) -> dict[str, Any]:
        """The invoke activity Teams sends for an Action.Execute click, not sent."""
        activity = self._event(member, conversation_id, "invoke")
        activity.update({"name": "adaptiveCard/action", "replyToId": message_id, "value": {
            "action": {"type": "Action.Execute", "verb": verb, "data": dict(data or {})}, "trigger": "manual"}})
        _retenant(activity, tenant_id)
        return activity

    def install(self, member: Member, conversation_id: str) -> Delivery:
        """The app installed in a team (conversationUpdate adding the bot), as Teams sends it on install."""
        activity = self._event(member, conversation_id, "conversationUpdate", event_type="teamMemberAdded")
        activity["membersAdded"] = [{"id": self.bot_id, "name": self.connector.bot_name}]
        return self.post(activity)

    def _event(self, member: Member, conversation_id: str, kind: str, *, event_type: str | None = None) -> dict:
        activity = self.connector.message_activity(conversation_id, None, member, app_id=self.app_id, record=False)
        activity["type"] = kind
        if event_type:
            activity["channelData"]["eventType"] = event_type
        return activity


def _retenant(activity: dict[str, Any], tenant_id: str | None) -> None:
    if tenant_id is not None:
        activity["channelData"]["tenant"] = {"id": tenant_id}
        activity["conversation"]["tenantId"] = tenant_id
