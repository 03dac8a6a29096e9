"""The Slack side of `revenant demo`: people in an emulated workspace, talking to the real Bolt endpoint.

Every command, message, reaction and click is an HTTP request signed exactly as Slack signs it,
sent to the app's /slack/events; the app answers through the Slack Web API emulator, whose channel
the demo prints at the end as a person would read it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import click

from emulators.slack import SlackEmulator
from emulators.slack_events import SlackSender

SIGNING_SECRET = "demo-signing-secret-0f1e2d3c4b5a6978"
PEOPLE = ("alice", "bob", "carol")


NAMES: dict[str, str] = {}  # Slack user id → name, filled when the demo workspace is created
_MENTION = re.compile(r"<@(U[A-Z0-9]+)(?:\|[^>]*)?>|\bslack:(U[A-Z0-9]+)")


def humanize(text: str) -> str:
    """Show `<@U123>` and `slack:U123` as `@alice`, as Slack's client does."""
    return _MENTION.sub(lambda m: "@" + NAMES.get(m.group(1) or m.group(2), m.group(1) or m.group(2)), text)


def say(who: str, text: str) -> None:
    """Print one line of the story, indented under its speaker."""
    for i, line in enumerate(humanize(text).splitlines() or [""]):
        click.echo(f"  {who if i == 0 else '':<12} {line}")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll while the app's lazy listeners and outbox do their work in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise click.ClickException(f"the demo timed out waiting for {what}")


@dataclass
class SlackDemo:
    """An emulated workspace with three people, and the app URL once the server runs."""

    slack: SlackEmulator = field(default_factory=lambda: SlackEmulator(team_name="Acme"))
    users: dict[str, str] = field(default_factory=dict)
    sender: SlackSender | None = None

    def settings(self) -> dict[str, Any]:
        """What a token-mode deployment sets, pointed at the emulator."""
        return {"slack_signing_secret": SIGNING_SECRET, "slack_bot_token": self.slack.bot_token,
                "slack_api_url": self.slack.api_url}

    def connect(self, app_url: str) -> None:
        self.sender = SlackSender(app_url=app_url, signing_secret=SIGNING_SECRET, slack=self.slack)

    def name(self, user_id: str) -> str:
        return next((n for n, u in self.users.items() if u == user_id), user_id)

    # --- people acting --------------------------------------------------------------------
    def command(self, who: str, channel: str, text: str) -> str:
        """`/revenant …` typed by `who`; prints and returns what the app answered."""
        assert self.sender is not None
        delivery, url = self.sender.command(self.users[who], channel, text)
        immediate = (delivery.json() or {}).get("text") if delivery.body.startswith("{") else None
        answer = immediate or wait_for(lambda: self.slack.responses(url), f"the answer to {text!r}")[-1]["text"]
        visible = "" if immediate or self.slack.responses(url)[-1].get("response_type") == "in_channel" else \
            " (only you can see this)"
        say(who, f"/revenant {text}")
        say("revenant", f"{_one_line(answer)}{visible}")
        return str(answer)

    def message(self, who: str, channel: str, text: str) -> dict[str, Any]:
        assert self.sender is not None
        _, msg = self.sender.message(self.users[who], channel, text)
        say(who, text)
        return msg

    def react(self, who: str, channel: str, ts: str, emoji: str) -> None:
        assert self.sender is not None
        self.sender.reaction(self.users[who], channel, ts, emoji)
        say(who, f"reacts :{emoji}:")

    def click(self, who: str, channel: str, message: dict[str, Any], button: dict[str, Any]) -> None:
        assert self.sender is not None
        self.sender.click(self.users[who], channel, message["ts"], button)
        say(who, f"clicks [{button['text']['text']}]")

    # --- reading the channel --------------------------------------------------------------
    def bot_messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        msgs = self.slack.thread(channel, thread_ts) if thread_ts else self.slack.messages(channel)
        return [m for m in msgs if m.get("bot_id")]

    def buttons(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return [e for b in message.get("blocks") or [] if b.get("type") == "actions" for e in b.get("elements", [])]

    def latest_ephemeral(self, who: str, after: int = 0) -> str | None:
        """The newest ephemeral message to `who` among those after the first `after` of them."""
        found = self.slack.ephemerals(user_id=self.users[who])[after:]
        return str(found[-1].get("text")) if found else None

    def ephemeral_count(self, who: str) -> int:
        return len(self.slack.ephemerals(user_id=self.users[who]))


def _one_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    more = f"  (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return (lines[0][:150] if lines else "") + more


def button_where(demo: SlackDemo, message: dict[str, Any], action_prefix: str,
                 value_has: str | None = None) -> dict[str, Any] | None:
    """The first button of `message` whose action id starts with the prefix (and value mentions a key)."""
    for button in demo.buttons(message):
        if button["action_id"].startswith(action_prefix) and (value_has is None or value_has in button.get("value", "")):
            return button
    return None


@contextmanager
def slack_demo() -> Iterator[SlackDemo]:
    """Start the Slack emulator with alice, bob and carol."""
    demo = SlackDemo()
    with demo.slack:
        for person in PEOPLE:
            demo.users[person] = demo.slack.create_user(person, person.title()).id
            NAMES[demo.users[person]] = person
        yield demo


