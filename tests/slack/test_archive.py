"""Closed incidents' channels are archived after the org's delay, once, however often the scheduler ticks."""

from __future__ import annotations

from bot.reminders import tick
from handlers.slack.outbound import SlackChat, make_client
from incident_core import events as ev
from incident_core import warroom
from incident_core.model import Status
from incident_core.state import apply_all
from tests.slack.conftest import SlackWorld, eventually
from tests.slack.test_slack_flow import declare


def close(w: SlackWorld) -> None:
    """Record publication and closure as the postmortem flow does at its end."""
    state = w.incident()
    now = w.app.deps.clock.now()
    base = {"org_id": w.org_id, "incident_id": state.incident_id, "occurred_at": now, "actor": "revenant"}
    events = [ev.StatusChanged(**base, version=state.version + 1, from_status=state.status,
                               to_status=Status.RESOLVED),
              ev.PostmortemPublished(**base, version=state.version + 2, target="github", url="http://x/pull/1"),
              ev.StatusChanged(**base, version=state.version + 3, from_status=Status.RESOLVED,
                               to_status=Status.CLOSED)]
    with w.app.deps.uow(w.org_id) as tx:
        tx.append(events, expected_version=state.version, state=apply_all(state, events))  # type: ignore[arg-type]


def test_closed_channel_is_archived_once_after_the_delay(slack_world: SlackWorld) -> None:
    w = slack_world
    channel_id = declare(w)
    org = w.app.directory.require_org(w.org_id)
    w.app.directory.update_org_settings(w.org_id, {**org.settings, "rooms": {"archive_after_hours": 24}})
    close(w)
    tick(w.app, use_leader=False)
    assert not w.slack.channel(channel_id).is_archived  # closed just now: the delay has not passed
    w.app.directory.update_org_settings(w.org_id, {**org.settings, "rooms": {"archive_after_hours": 0}})
    assert tick(w.app, use_leader=False) >= 1
    eventually(lambda: w.slack.channel(channel_id).is_archived, what="channel archived")
    tick(w.app, use_leader=False)  # a later tick must not archive it again
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="the outbox drained")
    assert len([c for c in w.slack.calls("conversations.archive") if c.get("channel") == channel_id]) == 1


def test_refreshing_an_archived_room_is_done_not_failed(slack_world: SlackWorld) -> None:
    """Slack refuses to update a message in an archived channel (`is_archived`). A refresh that comes after the
    archive (the closing change's refresh, deferred by the render window past a zero-hour archive delay) is done:
    the war room keeps the state it was archived with, instead of being retried for minutes and dead-lettered."""
    w = slack_world
    channel_id = declare(w)
    org = w.app.directory.require_org(w.org_id)
    w.app.directory.update_org_settings(w.org_id, {**org.settings, "rooms": {"archive_after_hours": 0}})
    close(w)
    assert tick(w.app, use_leader=False) >= 1
    eventually(lambda: w.slack.channel(channel_id).is_archived, what="channel archived")
    war_room = next(m for m in w.slack.messages(channel_id) if m.get("bot_id") and m.get("blocks"))
    chat = SlackChat(make_client(w.slack.bot_token, w.slack.api_url))
    refused, topics = len(w.slack.calls("chat.update")), len(w.slack.calls("conversations.setTopic"))
    chat.refresh(channel_id, war_room["ts"], warroom.build(w.incident(), w.app.deps.clock.now()))  # no error
    assert len(w.slack.calls("chat.update")) == refused + 1  # it was tried, and Slack said is_archived
    assert len(w.slack.calls("conversations.setTopic")) == topics  # nothing more is tried on an archived channel
