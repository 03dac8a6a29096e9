"""The weekly digest's deliveries: one outbox subscription per platform, each drawing the chart and posting it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.bootstrap import App
from bot.insights_wiring import history, tracker_for
from handlers.insights_chart import COMPACT, render_chart
from handlers.slack.digest_upload import ChartPost, SlackDigestUploader
from handlers.slack.insights_blocks import digest_blocks, digest_text
from handlers.slack.outbound import SlackChat
from handlers.teams.insights_cards import digest_card
from handlers.teams.insights_cards import digest_text as teams_digest_text
from handlers.teams.outbound import TeamsChat
from incident_core.insights import Digest, DigestSchedule
from incident_core.services.digests import digest_for
from incident_core.services.messages import Message
from storage.delivery_steps import SqlDeliverySteps

log = logging.getLogger("revenant.insights")
POSTED = "posted"


def _digest(app: App, msg: Message) -> tuple[Digest, DigestSchedule] | None:
    """The digest a delivery posts, or None (logged) when its scope no longer has a digest configured.

    The org's settings are read afresh: the tick that queued the digest read them from the database, and a
    copy this process remembered from before another process configured the digest would drop it for good."""
    app.directory.forget_org(msg.org_id)
    try:
        return digest_for(directory=app.directory, history=history(app), tracker=tracker_for(app)(msg.org_id),
                          org_id=msg.org_id, project_id=msg.payload.get("project_id"),
                          slot=datetime.fromisoformat(str(msg.payload["slot"])))
    except LookupError as exc:
        log.info("digest %s dropped: %s", msg.key, exc)
        return None


def _title(scope: str) -> str:
    return f"{scope} — incidents per week"


class SlackDigestPosting:
    """insights.digest (platform slack) → the chart shared in the configured channel with the digest blocks."""

    def __init__(self, app: App, chat_for: Callable[[str], SlackChat | None]) -> None:
        self.app = app
        self.chat_for = chat_for
        self.steps = SqlDeliverySteps(app.engine)

    def __call__(self, msg: Message) -> None:
        if msg.payload.get("platform") != "slack":
            return
        chat = self.chat_for(msg.org_id)
        if chat is None:
            log.info("digest %s: org %s has no Slack workspace bound", msg.key, msg.org_id)
            return
        found = _digest(self.app, msg)
        if found is None:
            return
        digest, schedule = found
        assert schedule.slack_channel is not None
        png = render_chart(digest.series, title=_title(digest.scope))
        chart = ChartPost(png=png, filename=f"incident-digest-{digest.week.isoformat()}.png",
                          title=digest_text(digest), alt_text=f"Incidents per week by service and the MTTR trend "
                                                              f"for {digest.scope}", blocks=digest_blocks(digest))
        SlackDigestUploader(chat.client, self.steps).post(msg.org_id, msg.key, schedule.slack_channel, chart)


class TeamsDigestPosting:
    """insights.digest (platform teams) → a new thread in the configured channel with the digest card."""

    def __init__(self, app: App, chat_for: Callable[[str], TeamsChat | None]) -> None:
        self.app = app
        self.chat_for = chat_for
        self.steps = SqlDeliverySteps(app.engine)

    def __call__(self, msg: Message) -> None:
        if msg.payload.get("platform") != "teams":
            return
        if POSTED in self.steps.steps(msg.org_id, msg.key):
            return  # posted by an earlier attempt whose outbox record was lost
        chat = self.chat_for(msg.org_id)
        if chat is None:
            log.info("digest %s: org %s has no Teams tenant bound", msg.key, msg.org_id)
            return
        found = _digest(self.app, msg)
        if found is None:
            return
        digest, schedule = found
        assert schedule.teams_channel is not None
        content = digest_card(digest, lambda: render_chart(digest.series, title=_title(digest.scope), size=COMPACT,
                                                           palette_colours=16))
        posted = chat.post_to_channel(schedule.teams_channel, content,
                                                              teams_digest_text(digest))
        self.steps.record(msg.org_id, msg.key, POSTED, {"activity_id": posted})
