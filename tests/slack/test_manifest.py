"""app_manifest.yml declares exactly what the app handles, with the scopes its code needs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from handlers.slack.ids import COMMAND
from handlers.slack.scopes import COMMAND_SCOPES, EVENT_SCOPES, METHOD_SCOPES
from tests.slack.conftest import SlackWorld

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "app_manifest.yml").read_text())
CALL = re.compile(r"client\.(\w+)\(")


def called_methods() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "handlers" / "slack").rglob("*.py"):
        found |= set(CALL.findall(path.read_text()))
    for path in (ROOT / "publishers").rglob("*.py"):
        found |= {m for m in CALL.findall(path.read_text()) if m in METHOD_SCOPES}
    return found - {"retry_handlers"}


def test_commands_match() -> None:
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == [COMMAND]


def test_scopes_are_exactly_what_the_code_needs() -> None:
    methods = called_methods()
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, f"add these Web API methods to handlers/slack/scopes.py: {unknown}"
    declared = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    needed = COMMAND_SCOPES.union(*(METHOD_SCOPES[m] for m in methods), *(EVENT_SCOPES[e] for e in events))
    assert declared == needed, f"missing {needed - declared}, unused {declared - needed}"


def _event(kind: str, w: SlackWorld) -> dict:
    base = {"type": kind, "user": w.bob, "channel": w.general, "event_ts": "1.0"}
    if kind.startswith("message."):
        return {"type": "message", "channel_type": "channel" if kind.endswith("channels") else "group",
                "channel": w.general, "user": w.bob, "text": "hi", "ts": "1.0"}
    if kind.startswith("reaction_"):
        return {**base, "reaction": "eyes", "item": {"type": "message", "channel": w.general, "ts": "1.0"}}
    if kind == "app_home_opened":
        return {**base, "tab": "home"}
    return base


def test_every_declared_event_is_handled_and_undeclared_ones_are_not(slack_world: SlackWorld) -> None:
    w = slack_world
    for kind in MANIFEST["settings"]["event_subscriptions"]["bot_events"]:
        assert w.sender.event(_event(kind, w)).status == 200, kind
    for kind in ("team_join", "channel_rename", "emoji_changed"):
        assert w.sender.event({"type": kind, "event_ts": "1.0"}).status == 404, kind


def test_interactivity_is_enabled_for_the_buttons_and_modals() -> None:
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
