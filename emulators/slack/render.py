"""Plain-text views of channels and modals, as a person would read them in Slack."""

from __future__ import annotations

import datetime as dt
import textwrap

from emulators.slack.blocks import blocks_to_lines, mrkdwn_to_text
from emulators.slack.ops import SYSTEM_SUBTYPES
from emulators.slack.state import Channel, Message, SlackState, View


class Renderer:
    """Renders channel transcripts and views with names resolved."""

    def __init__(self, state: SlackState, *, time_format: str = "%H:%M", tz: dt.tzinfo = dt.UTC) -> None:
        self.state = state
        self.time_format = time_format
        self.tz = tz

    def _user(self, user_id: str) -> str:
        return self.state.user_name(user_id)

    def _channel(self, channel_id: str) -> str:
        channel = self.state.channels.get(channel_id)
        return channel.name if channel else channel_id

    def text(self, raw: str) -> str:
        """Message markup with mentions and links resolved."""
        return mrkdwn_to_text(raw, self._user, self._channel)

    def when(self, ts: str) -> str:
        """A message timestamp as wall-clock time."""
        return dt.datetime.fromtimestamp(float(ts), self.tz).strftime(self.time_format)

    def channel(self, channel: Channel, *, include_ephemeral: bool = False, width: int = 100) -> str:
        """The whole channel: header, bookmarks, messages, threads, pins and reactions."""
        if channel.is_im:
            others = [self._user(m) for m in channel.members]
            header = "DM " + ", ".join(others)
        else:
            flags = [
                f for f, on in (("private", channel.is_private), ("archived", channel.is_archived)) if on
            ]
            header = f"#{channel.name}" + (f" ({', '.join(flags)})" if flags else "")
        lines = [header]
        if channel.topic.value:
            lines.append(f"Topic: {self.text(channel.topic.value)}")
        if channel.purpose.value:
            lines.append(f"Description: {self.text(channel.purpose.value)}")
        if channel.bookmarks:
            lines.append("Bookmarks: " + " · ".join(f"{b.title} <{b.link}>" for b in channel.bookmarks))
        lines.append(f"Members: {', '.join(self._user(m) for m in channel.members)}")
        lines.append("─" * min(width, 60))
        ephemerals = (
            [e for e in self.state.ephemerals if e.channel == channel.id] if include_ephemeral else []
        )
        for message in channel.top_level():
            lines.extend(self.message(channel, message, width=width))
            if not message.is_reply:
                for reply in channel.replies(message.ts):
                    reply_lines = self.message(channel, reply, width=width - 4)
                    lines.append("  ↳ " + reply_lines[0])
                    lines.extend("    " + line for line in reply_lines[1:])
        for eph in ephemerals:
            body = self.text(eph.text) or "\n".join(self.text(x) for x in blocks_to_lines(eph.blocks or []))
            lines.append(
                f"[{self.when(eph.ts)}] {self._user(eph.author)} (only visible to {self._user(eph.user)}): {body}"
            )
        return "\n".join(lines) + "\n"

    def message(self, channel: Channel, message: Message, *, width: int = 100) -> list[str]:
        """One message as indented lines."""
        author = message.username or self._user(message.user)
        when = self.when(message.ts)
        if message.subtype in SYSTEM_SUBTYPES:
            return [
                f"[{when}] · {self.text(message.text) if message.subtype == 'channel_join' else author + ' ' + self.text(message.text)}"
            ]
        if message.subtype == "tombstone":
            return [f"[{when}] (This message was deleted.)"]
        badge = " [APP]" if message.bot_id else ""
        marks = []
        if message.pinned_by:
            marks.append("📌 pinned")
        if message.edited:
            marks.append("(edited)")
        if message.reply_broadcast:
            marks.append("(also sent to the channel)")
        head = f"[{when}] {author}{badge}:"
        body = [self.text(line) for line in blocks_to_lines(message.blocks)] if message.blocks else []
        if not body:
            body = self.text(message.text).splitlines() or [""]
        for file_id in message.files or []:
            shared = self.state.files.get(file_id)
            if shared is not None:
                body.append(f"[image: {shared.title or shared.name}, {len(shared.data or b'')} bytes]")
        for attachment in message.attachments or []:
            body.extend(self.text(str(attachment.get(k))) for k in ("title", "text") if attachment.get(k))
        out = [" ".join([head, body[0], *marks]).rstrip()]
        for line in body[1:]:
            wrapped = textwrap.wrap(line, max(20, width - 4)) or [""]
            out.extend("    " + part for part in wrapped)
        if message.reactions:
            out.append(
                "    " + "  ".join(f":{name}: {len(users)}" for name, users in message.reactions.items())
            )
        return out

    def view(self, view: View) -> str:
        """A modal or Home tab: title, blocks and buttons."""
        p = view.payload
        title = (p.get("title") or {}).get("text", "Home" if view.type == "home" else "")
        lines = [f"┌ {title} ({view.type}{', closed' if not view.open else ''})"]
        lines.extend("│ " + self.text(line) for line in blocks_to_lines(p.get("blocks", [])))
        buttons = [f"[{(p.get(k) or {}).get('text')}]" for k in ("close", "submit") if p.get(k)]
        if buttons:
            lines.append("└ " + " ".join(buttons))
        else:
            lines.append("└")
        return "\n".join(lines) + "\n"
