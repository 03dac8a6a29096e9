"""Slack down: the Teams war room and the postmortem draft still arrive; when Slack returns it catches up once."""

from __future__ import annotations

import json

from incident_core.model import OrgRole
from tests.slack.conftest import eventually
from tests.teams.test_parity import Both, both  # noqa: F401 — the fixture: one org on Slack and Teams


def test_slack_down_holds_back_neither_teams_nor_drafts_and_it_catches_up_once(both: Both) -> None:  # noqa: F811
    s, t = both.slack, both.teams
    both.app.directory.bind("slack", s.slack.team_id, t.org_id, move=True)  # the Teams org uses Slack too
    both.app.directory.set_role(t.org_id, f"slack:{s.alice}", OrgRole.COMMANDER)
    s.org_id = t.org_id
    s.slack.inject("*", status=500, times=100_000)  # every Slack Web API call fails
    thread = t.declare()  # the Teams thread opens while Slack answers 500 to everything
    delivery, _ = t.sender.command(t.alice, thread, "status resolved error rate back to normal")
    assert delivery.status == 201, delivery.body
    eventually(lambda: "resolved" in json.dumps(t.card(thread)).lower(), what="the Teams card shows resolved")
    eventually(lambda: "PostmortemDrafted" in t.events(), what="the postmortem draft")
    assert "slack" not in t.incident().rooms
    failed = both.app.delivery_monitor.failures.labels(t.org_id, "SlackRoomKeeper")._value.get()
    assert failed >= 1  # counted per org and subscriber
    s.slack.faults.clear()  # Slack is back
    channel = s.channel_of(timeout=60)
    eventually(lambda: any("resolved" in json.dumps(m.get("blocks", "")).lower() for m in s.slack.messages(channel)),
               what="the Slack war room catches up to resolved", timeout=60)
    eventually(lambda: both.app.outbox.pending(t.org_id) == 0, what="outbox drained", timeout=60)
    assert len(s.slack.calls("conversations.create")) == 1
    assert [e for e in t.events() if e == "ChatRoomOpened"] == ["ChatRoomOpened", "ChatRoomOpened"]  # one each
