"""War-room refreshes set the channel topic only when it changes (conversations.setTopic is Tier 2)."""

from __future__ import annotations

from tests.slack.conftest import SlackWorld, eventually


def test_a_refresh_sets_the_topic_only_when_it_changes(slack_world: SlackWorld) -> None:
    w = slack_world

    def command(channel: str, text: str) -> None:
        delivery, url = w.sender.command(w.alice, channel, text)
        assert delivery.status == 200, delivery.body
        eventually(lambda: w.slack.responses(url), what=text)

    command(w.general, "declare Checkout latency spike sev2")
    room = w.channel_of()
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="room opened")
    topics = len(w.slack.calls("conversations.setTopic"))
    updates = len(w.slack.calls("chat.update"))
    command(room, "note rolled back to v412")  # the war room changes, its topic does not
    eventually(lambda: len(w.slack.calls("chat.update")) > updates, what="the war room refreshed")
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="delivered")
    assert len(w.slack.calls("conversations.setTopic")) == topics
    command(room, "status mitigated")  # the topic shows the status
    eventually(lambda: len(w.slack.calls("conversations.setTopic")) == topics + 1, what="the topic follows")
    assert "mitigated" in w.slack.calls("conversations.setTopic")[-1]["topic"]
