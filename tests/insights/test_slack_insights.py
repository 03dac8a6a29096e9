"""Insights in Slack, end to end over signed requests and the Slack emulator: the war-room line of a recurring
incident, `/revenant patterns`, the weekly digest's chart through the upload flow (once, resumable), and the
wall between workspaces of different orgs."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from bot.bootstrap import bootstrap
from bot.reminders import tick
from emulators.slack_events import SlackSender
from handlers.slack.digest_upload import SHARED, ChartPost, SlackDigestUploader
from incident_core.insights import at_midnight, week_start
from incident_core.intake import intake_signals
from incident_core.timeline import render
from storage.delivery_steps import SqlDeliverySteps
from tests.insights.history import recurring, signal
from tests.slack.conftest import SlackWorld, eventually

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history(w: SlackWorld, other_org: str, *, at: tuple[datetime, datetime] | None = None) -> None:
    recurring(w.app, w.org_id, f"slack:{w.alice}", other_org, at)


def _settings(w: SlackWorld, **extra: Any) -> None:
    org = w.app.directory.require_org(w.org_id)
    w.app.directory.update_org_settings(w.org_id, {**org.settings, **extra})


def test_recurring_incident_war_room_line_and_patterns_command(slack_world: SlackWorld) -> None:
    w = slack_world
    other = w.app.directory.create_org("slack-other-org")
    _history(w, other.id)
    _settings(w, slack={"auto_channel": True})
    intake_signals(deps=w.app.deps, org_id=w.org_id, signals=[signal(w.org_id, 24, datetime.now(UTC))])
    channel = w.channel_of("INC-3")
    # The recurrence is noted, and the pinned war room refreshed, by the outbox after the room opened.
    state = eventually(lambda: (s := w.incident("INC-3")) and s.recurrence and s, what="INC-3's recurrence")
    assert state.recurrence.prior == ("INC-1", "INC-2")
    line = "3rd time in 30 days: INC-1, INC-2 · postmortem of INC-1 · 2 action items still open"
    eventually(lambda: any(line in str(b) for b in w.slack.messages(channel)[0]["blocks"]),
               what="the recurrence line in the war room")
    timeline = render(w.app.queries.timeline(w.org_id, state.incident_id))
    assert any("recurring: HighLatency (service checkout), 3 times in 30 days (before: INC-1, INC-2)" in line
               for line in timeline), timeline

    delivery, url = w.sender.command(w.alice, channel, "patterns checkout")
    assert delivery.status == 200
    answer = eventually(lambda: w.slack.responses(url), what="patterns answer")[0]
    text = str(answer["blocks"])
    assert "HighLatency (service checkout)* — 3 incidents" in text and "Postmortem of INC-1" in text
    assert "Autoscale &lt;checkout&gt;" in text  # an outside string, escaped for mrkdwn

    bad, _ = w.sender.command(w.alice, channel, "patterns a b c")
    assert bad.status == 200 and "usage" in bad.body

    # Token mode serves exactly the workspace its bot token belongs to (issue 13): another workspace,
    # even one bound to another org, is told so and sees nothing of either org.
    team_b = w.slack.create_team("Other Corp")
    w.app.directory.bind("slack", team_b.id, other.id, move=True)  # emulator team ids repeat across tests
    dana = w.slack.create_user("dana", team_id=team_b.id)
    general_b = w.slack.channel_by_name("general", team_id=team_b.id)
    assert general_b is not None
    sender_b = SlackSender(app_url=w.sender.app_url, signing_secret=w.sender.signing_secret, slack=w.slack,
                           team_id=team_b.id)
    _, url_b = sender_b.command(dana.id, general_b.id, "patterns 90d")
    theirs = str(eventually(lambda: w.slack.responses(url_b), what="org B's answer")[0])
    assert "belongs to another Slack workspace" in theirs and "INC-" not in theirs


def _png_inked(data: bytes) -> tuple[tuple[int, int], int]:
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        return rgb.size, sum(1 for p in rgb.getdata() if p != (255, 255, 255))


def test_weekly_digest_is_uploaded_once_with_its_chart(slack_world: SlackWorld) -> None:
    w = slack_world
    today = datetime.now(UTC)
    last_week = at_midnight(week_start(today)) - timedelta(days=7)  # the week the digest covers
    _history(w, w.app.directory.create_org("slack-digest-other").id,
             at=(last_week + timedelta(days=1, hours=9), last_week + timedelta(days=2, hours=15)))
    _settings(w, insights={"digest": {"slack_channel": w.general, "weekday": today.strftime("%a").lower(),
                                      "hour": 0}})
    assert tick(w.app, use_leader=False) >= 1
    shared = eventually(lambda: w.slack.files(w.general), what="the digest chart shared in #general")
    assert len(shared) == 1 and shared[0]["data"][:8] == PNG_MAGIC
    size, inked = _png_inked(shared[0]["data"])
    assert size == (800, 400) and inked > 10_000
    message = next(m for m in w.slack.messages(w.general) if m.get("files"))
    blocks = str(message["blocks"])
    assert "Weekly incident digest" in blocks and "2 incident(s)" in blocks and "checkout 2" in blocks
    assert "HighLatency (service checkout): 2 incidents" in blocks and "2 action item(s) open" in blocks
    assert tick(w.app, use_leader=False) == 0  # the slot's outbox key is taken: fires once
    elsewhere = bootstrap(w.app.settings, migrate=False)  # another process on the same database
    try:
        assert tick(elsewhere, use_leader=False) == 0
    finally:
        elsewhere.close()
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="the outbox drained")
    assert len(w.slack.files(w.general)) == 1
    assert [c["filename"] for c in w.slack.calls("files.getUploadURLExternal")] == [shared[0]["name"]]


class LosesTheShareRecord(SqlDeliverySteps):
    """A ledger whose first record of the share fails: the upload was shared, but nobody wrote it down."""

    failed = False

    def record(self, org_id: str, key: str, step: str, value: dict[str, Any]) -> dict[str, Any]:
        if step == SHARED and not self.failed:
            self.failed = True
            raise ConnectionError("database went away")
        return super().record(org_id, key, step, value)


def test_a_retry_after_a_partial_failure_finds_the_shared_file_instead_of_posting_twice(
        slack_world: SlackWorld) -> None:
    w = slack_world
    from handlers.slack.outbound import make_client

    uploader = SlackDigestUploader(make_client(w.slack.bot_token, w.slack.api_url), LosesTheShareRecord(w.app.engine))
    chart = ChartPost(png=PNG_MAGIC + b"\x00" * 64, filename="c.png", title="t", alt_text="a",
                      blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "digest"}}])
    try:
        uploader.post(w.org_id, "digest:slack:org:test", w.general, chart)
        raise AssertionError("the first attempt should have failed")
    except ConnectionError:
        pass
    file_id = uploader.post(w.org_id, "digest:slack:org:test", w.general, chart)
    assert [f["id"] for f in w.slack.files(w.general)] == [file_id]
    assert len(w.slack.calls("files.completeUploadExternal")) == 1 and len(w.slack.calls("files.info")) == 1
    assert uploader.post(w.org_id, "digest:slack:org:test", w.general, chart) == file_id  # recorded: nothing sent
    assert len(w.slack.calls("files.info")) == 1
