"""The guidance part of `revenant demo`, in Slack: cited suggestions with risk badges threaded under the
war room, a read-only step run on click, and a high-risk rollback that bob requests, cannot approve
himself, and alice approves."""

from __future__ import annotations

from typing import Any

from bot.demo_slack import SlackDemo, button_where, say, wait_for
from handlers.slack.ids import ActionId

_OUTCOME = "Simulated run of"


def _text(message: dict[str, Any]) -> list[str]:
    """The visible text of a bot message's blocks, line by line."""
    lines: list[str] = []
    for block in message.get("blocks") or []:
        if block.get("type") == "section" and block.get("text"):
            lines += block["text"]["text"].splitlines()
        elif block.get("type") == "context":
            lines += [e.get("text", "") for e in block.get("elements", [])]
    return [line for line in lines if line.strip()]


def _suggestions(sd: SlackDemo, channel: str, war_room_ts: str, after: int) -> dict[str, Any]:
    def newest() -> dict[str, Any] | None:
        found = [m for m in sd.bot_messages(channel, war_room_ts)[after:] if "Suggested next steps" in m.get("text", "")]
        return found[-1] if found else None

    return wait_for(newest, "the suggestions thread")


def _outcome(sd: SlackDemo, channel: str, war_room_ts: str, after: int, what: str) -> str:
    """The first line of the run's outcome posted in the thread after the first `after` bot messages: not
    whatever else lands there meanwhile (the automatic offer of suggestions can arrive at the same moment)."""
    def posted() -> list[dict[str, Any]]:
        return [m for m in sd.bot_messages(channel, war_room_ts)[after:] if _OUTCOME in m.get("text", "")]

    done = wait_for(posted, what)[0]
    return (_text(done) or [done.get("text", "")])[0][:160]


def slack_guidance(sd: SlackDemo, channel: str, war_room_ts: str) -> None:
    """`/revenant suggest`, run a read-only step, and take a high-risk step through two-person approval."""
    before = len(sd.bot_messages(channel, war_room_ts))
    sd.command("alice", channel, "suggest")
    message = _suggestions(sd, channel, war_room_ts, before)
    for line in _text(message)[:24]:
        say("  ↳ thread", line[:160])
    low = next((b for b in sd.buttons(message) if b["action_id"] == ActionId.SUGGESTION_RUN
                and b.get("style") == "primary"), None)
    if low is not None:
        count = len(sd.bot_messages(channel, war_room_ts))
        sd.click("bob", channel, message, low)
        say("revenant", _outcome(sd, channel, war_room_ts, count, "the simulated run"))
    high = next((b for b in sd.buttons(message) if b["action_id"] == ActionId.SUGGESTION_RUN
                 and b.get("style") == "danger"), None)
    if high is None:
        return
    count = len(sd.bot_messages(channel, war_room_ts))
    sd.click("bob", channel, message, high)
    approval = wait_for(lambda: [m for m in sd.bot_messages(channel, war_room_ts)[count:]
                                 if button_where(sd, m, ActionId.ACTION_APPROVE)], "the approval request")[-1]
    say("revenant", (_text(approval) or [approval.get("text", "")])[0][:160])
    approve = button_where(sd, approval, ActionId.ACTION_APPROVE)
    assert approve is not None
    seen = sd.ephemeral_count("bob")
    sd.click("bob", channel, approval, approve)
    refusal = wait_for(lambda: sd.latest_ephemeral("bob", after=seen), "bob's refusal")
    say("revenant", f"(to bob only) {refusal[:150]}")
    count = len(sd.bot_messages(channel, war_room_ts))
    sd.click("alice", channel, approval, approve)
    say("revenant", _outcome(sd, channel, war_room_ts, count, "the approved rollback"))
