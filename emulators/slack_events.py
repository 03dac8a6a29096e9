"""Slack's side of the conversation: signed slash commands, event callbacks and interactions sent to an app.

Requests are built and signed exactly as Slack does (v0 HMAC-SHA256 over `v0:{timestamp}:{raw body}`;
slash commands and interactions are form-encoded, events are JSON with retry headers), and any
response_url / trigger_id they carry points into a SlackEmulator.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from emulators.slack import SlackEmulator


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Slack-Signature value for this body."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class SlackSender:
    """Posts to the app's /slack/events as Slack would, for one workspace of the emulator."""

    app_url: str
    signing_secret: str
    slack: SlackEmulator
    team_id: str = ""
    api_app_id: str = "A0REVENANT"
    clock_skew: int = 0
    sent: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.team_id = self.team_id or self.slack.team_id

    # --- transport ------------------------------------------------------------------------
    def post(
        self,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Delivery:
        ts = str(timestamp if timestamp is not None else int(time.time()) + self.clock_skew)
        signed = {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(secret or self.signing_secret, ts, body),
            "Content-Type": content_type,
            **(headers or {}),
        }
        self.sent.append((signed, body))
        return self.replay(signed, body)

    def replay(self, headers: dict[str, str], body: bytes) -> Delivery:
        """Send exactly these bytes and headers again (what an attacker replaying a capture does)."""
        req = urllib.request.Request(
            f"{self.app_url}/slack/events", data=body, method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return Delivery(r.status, r.read().decode(), dict(r.headers))
        except urllib.error.HTTPError as e:
            return Delivery(e.code, e.read().decode(), dict(e.headers))

    # --- slash commands -------------------------------------------------------------------
    def command(
        self, user_id: str, channel: str, text: str, *, command: str = "/revenant", team_id: str | None = None
    ) -> tuple[Delivery, str]:
        """Returns the HTTP answer and the response_url the app should answer on later."""
        ch = self.slack.channel(channel)
        response_url = self.slack.response_url(ch.id, user_id)
        form = {
            "token": "legacy-verification-token",
            "team_id": team_id or self.team_id,
            "team_domain": "emulated",
            "channel_id": ch.id,
            "channel_name": ch.name,
            "user_id": user_id,
            "user_name": self.slack.state.users[user_id].name,
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": self.slack.issue_trigger_id(user_id),
        }
        body = urllib.parse.urlencode(form).encode()
        return self.post(body, "application/x-www-form-urlencoded"), response_url

    # --- Events API -----------------------------------------------------------------------
    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        team_id: str | None = None,
    ) -> Delivery:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": team_id or self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id or self.team_id,
                    "user_id": self.slack.bot_user_id,
                    "is_bot": True,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(json.dumps(envelope).encode(), "application/json", headers=headers)

    def message(
        self,
        user_id: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        event_id: str | None = None,
    ) -> tuple[Delivery, dict[str, Any]]:
        """A person posts in a channel: the message lands in the emulator and the event reaches the app."""
        msg = self.slack.post_as(user_id, channel, text, thread_ts=thread_ts)
        ch = self.slack.channel(channel)
        event = {
            "type": "message",
            "channel": ch.id,
            "user": user_id,
            "text": text,
            "ts": msg["ts"],
            "channel_type": "channel",
            "event_ts": msg["ts"],
            **({"thread_ts": thread_ts} if thread_ts else {}),
        }
        return self.event(event, event_id=event_id), msg

    def reaction(self, user_id: str, channel: str, ts: str, name: str, *, removed: bool = False) -> Delivery:
        ch = self.slack.channel(channel)
        if not removed:
            self.slack.react_as(user_id, ch.id, ts, name)
        return self.event(
            {
                "type": "reaction_removed" if removed else "reaction_added",
                "user": user_id,
                "reaction": name,
                "item": {"type": "message", "channel": ch.id, "ts": ts},
                "event_ts": f"{time.time():.6f}",
            }
        )

    # --- interactivity --------------------------------------------------------------------
    def _interaction(self, kind: str, user_id: str) -> dict[str, Any]:
        """The fields every interaction payload carries."""
        user = {"id": user_id, "username": self.slack.state.users[user_id].name, "team_id": self.team_id}
        return {"type": kind, "team": {"id": self.team_id, "domain": "emulated"}, "user": user,
                "api_app_id": self.api_app_id, "token": "legacy-verification-token",
                "trigger_id": self.slack.issue_trigger_id(user_id)}

    def _send_interaction(self, payload: dict[str, Any]) -> Delivery:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.post(body, "application/x-www-form-urlencoded")

    def click(self, user_id: str, channel: str, message_ts: str, action: dict[str, Any]) -> Delivery:
        """A button in a message: `action` is the button element as the app rendered it."""
        ch = self.slack.channel(channel)
        return self._send_interaction({
            **self._interaction("block_actions", user_id),
            "container": {"type": "message", "message_ts": message_ts, "channel_id": ch.id},
            "channel": {"id": ch.id, "name": ch.name},
            "message": {"ts": message_ts},
            "response_url": self.slack.response_url(ch.id, user_id, message_ts=message_ts),
            "actions": [{"action_id": action["action_id"], "block_id": action.get("block_id", ""),
                         "type": action.get("type", "button"), "value": action.get("value", ""),
                         "text": action.get("text"), "action_ts": f"{time.time():.6f}"}],
        })

    def submit_view(self, user_id: str, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> Delivery:
        """Submit a modal: `values` maps block_id → {action_id: state value} as Slack sends it."""
        return self._send_interaction({**self._interaction("view_submission", user_id),
                                       "view": {**view, "state": {"values": values}}})


@dataclass
class SocketSender(SlackSender):
    """The same requests as SlackSender, delivered as Socket Mode envelopes over the emulator's link.

    A slash command becomes a `slash_commands` envelope with the form fields as its payload, an
    interaction an `interactive` envelope, an event callback an `events_api` envelope (a retry header
    becomes `retry_attempt`/`retry_reason`). The Delivery is the app's acknowledgement: status 200 and the
    ack's `payload` (as JSON) when it answered, 504 when it did not within `timeout`. (Envelopes are not
    signed; `signing_secret` is unused, `app_url` still serves webhooks.)
    """

    def replay(self, headers: dict[str, str], body: bytes) -> Delivery:
        kind, payload = envelope_of(headers.get("Content-Type", ""), body)
        try:
            ack = self.slack.socket_send(kind, payload, retry_attempt=int(headers.get("X-Slack-Retry-Num", 0)),
                                         retry_reason=headers.get("X-Slack-Retry-Reason", ""), timeout=self.timeout)
        except TimeoutError as exc:
            return Delivery(504, str(exc))
        return Delivery(200, json.dumps(ack["payload"]) if ack.get("payload") else "")


def envelope_of(content_type: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """The Socket Mode envelope type and payload of an HTTP request body Slack would have sent."""
    if content_type.startswith("application/json"):
        return "events_api", json.loads(body)
    form = dict(urllib.parse.parse_qsl(body.decode()))
    if "payload" in form:
        return "interactive", json.loads(form["payload"])
    return "slash_commands", dict(form)
