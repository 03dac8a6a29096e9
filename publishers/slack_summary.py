"""Slack: a summary of the approved postmortem in the org's postmortem channel (found, not reposted, on retry).

The message itself is rendered by the Slack adapter (handlers/slack: the one place Slack escaping
happens), which the composition root hands in as `render`; this module only finds or posts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from incident_core.postmortem_render import PostmortemDocument
from incident_core.publishing import Publication
from publishers.errors import PublishError

EVENT_TYPE = "revenant_postmortem"
Render = Callable[[PostmortemDocument, dict[str, str]], dict[str, Any]]  # → chat.postMessage `text` and `blocks`


class SlackSummaryPublisher:
    """Publisher port over slack_sdk; the WebClient and the renderer come from the composition root."""

    def __init__(self, client: WebClient, render: Render) -> None:
        self.client = client
        self.render = render

    def publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        """Post the summary once: an earlier post is found by its metadata (or marker) in the channel."""
        channel = self._channel_id(str(config["channel"]))
        found = self._find(channel, doc)
        if found is None:
            links = {k: str(v) for k, v in (config.get("links") or {}).items()}
            posted = self.client.chat_postMessage(
                channel=channel, **self.render(doc, links),
                metadata={"event_type": EVENT_TYPE, "event_payload": {"incident_id": doc.incident_id}})
            found = str(posted["ts"])
        link = self.client.chat_getPermalink(channel=channel, message_ts=found)
        return Publication(url=str(link["permalink"]), ref=f"{channel}/{found}")

    def _channel_id(self, name: str) -> str:
        wanted = name.lstrip("#")
        if wanted[:1] in ("C", "G") and wanted.upper() == wanted:
            return wanted
        cursor = None
        while True:
            page = self.client.conversations_list(limit=200, cursor=cursor, exclude_archived=True,
                                                  types="public_channel,private_channel")
            for ch in page["channels"]:
                if ch["name"] == wanted:
                    if not ch.get("is_member") and not ch.get("is_private"):
                        self.client.conversations_join(channel=ch["id"])
                    return str(ch["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise PublishError(f"Slack channel #{wanted} was not found: create it (and invite the bot if it "
                                   "is private) or fix publishing.slack.channel")

    def _find(self, channel: str, doc: PostmortemDocument) -> str | None:
        try:
            page = self.client.conversations_history(channel=channel, limit=200, include_all_metadata=True)
        except SlackApiError as exc:
            if exc.response.get("error") == "not_in_channel":
                raise PublishError(f"the bot is not in channel {channel}; invite it with /invite @revenant") from None
            raise
        messages: list[dict[str, Any]] = page.get("messages", [])
        for message in messages:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == EVENT_TYPE and (meta.get("event_payload") or {}).get("incident_id") \
                    == doc.incident_id:
                return str(message["ts"])
            if f"`{doc.label}`" in str(message.get("blocks", "")):
                return str(message["ts"])
        return None
