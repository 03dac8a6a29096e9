"""Insights in Microsoft Teams through the Bot Connector emulator: the war-room card's recurrence line,
`@Revenant patterns` (and another tenant's org seeing only its own), and the weekly digest card with its chart."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from bot.reminders import tick
from handlers.insights_chart import COMPACT, render_chart
from handlers.teams.insights_cards import MESSAGE_BUDGET, digest_card
from incident_core.insights import WeekBucket, WeeklySeries, at_midnight, build_digest, week_start
from incident_core.intake import intake_signals
from tests.insights.history import recurring, signal
from tests.slack.conftest import eventually
from tests.teams.conftest import TeamsWorld, connector, teams_world  # noqa: F401 (fixtures)


def _settings(w: TeamsWorld, **extra: Any) -> None:
    org = w.app.directory.require_org(w.org_id)
    w.app.directory.update_org_settings(w.org_id, {**org.settings, **extra})


def _cards(w: TeamsWorld, conversation: str) -> list[dict[str, Any]]:
    return [a["content"] for act in w.connector.activities(conversation) for a in act.get("attachments") or ()
            if isinstance(a.get("content"), dict)]


def test_war_room_card_and_patterns_command(teams_world: TeamsWorld) -> None:  # noqa: F811
    w = teams_world
    other = w.app.directory.create_org("teams-other-org")
    w.app.directory.bind("teams", "tenant-of-other-org", other.id)
    recurring(w.app, w.org_id, w.actor(w.alice), other.id)
    w.sender.command(w.alice, w.general, "help")  # the bot learns where the team's channels are
    _settings(w, teams={"incident_channel": w.incidents, "auto_channel": True})
    intake_signals(deps=w.app.deps, org_id=w.org_id, signals=[signal(w.org_id, 24, datetime.now(UTC))])
    thread = w.thread_of("INC-3")
    line = "3rd time in 30 days: INC-1, INC-2 · postmortem of INC-1 · 2 action items still open"
    eventually(lambda: line in str(w.card(thread)), what="the recurrence line on the war-room card")

    delivery, _ = w.sender.command(w.bob, w.general, "patterns checkout 90d")
    assert delivery.status == 201, delivery.body
    card = eventually(lambda: [c for c in _cards(w, w.general) if "Recurring patterns" in str(c)],
                      what="the patterns card")[-1]
    assert "HighLatency (service checkout)** — 3 incidents" in str(card) and "Postmortem of INC-1" in str(card)
    assert "Autoscale \\\\<checkout\\\\>" in str(card)  # markdown-neutralized outside string

    web = w.app.directory.create_project(w.org_id, "web", {"teams_channel": w.incidents})
    w.sender.command(w.bob, w.incidents, "patterns 90d")  # the web project's channel: only web's incidents
    scoped = eventually(lambda: [c for c in _cards(w, w.incidents) if "Recurring patterns" in str(c)],
                        what="the project's patterns card")[-1]
    assert f"{web.name}" in str(scoped) and "0 incident(s)" in str(scoped)

    w.sender.command(w.bob, w.general, "patterns 90d", tenant_id="tenant-of-other-org")
    theirs = eventually(lambda: [c for c in _cards(w, w.general) if "1 incident(s)" in str(c)],
                        what="the other org's answer")[-1]
    assert "INC-2" not in str(theirs) and "Nothing recurred" in str(theirs)


def test_weekly_digest_card_carries_the_chart(teams_world: TeamsWorld) -> None:  # noqa: F811
    w = teams_world
    w.sender.command(w.alice, w.general, "help")
    today = datetime.now(UTC)
    last_week = at_midnight(week_start(today)) - timedelta(days=7)
    recurring(w.app, w.org_id, w.actor(w.alice), w.app.directory.create_org("teams-digest-other").id,
              at=(last_week + timedelta(days=1, hours=9), last_week + timedelta(days=2, hours=15)))
    _settings(w, insights={"digest": {"teams_channel": w.general, "weekday": today.strftime("%a").lower(),
                                      "hour": 0}})
    assert tick(w.app, use_leader=False) >= 1
    card = eventually(lambda: [c for c in _cards(w, w.general) if "Weekly incident digest" in str(c)],
                      what="the digest card")[0]
    image = next(e for e in card["body"] if e.get("type") == "Image")
    png = base64.b64decode(image["url"].removeprefix("data:image/png;base64,"))
    with Image.open(io.BytesIO(png)) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (480, 240) and sum(1 for p in rgb.getdata() if p != (255, 255, 255)) > 5_000
    assert "HighLatency (service checkout): 2 incidents" in str(card)
    assert tick(w.app, use_leader=False) == 0
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="the outbox drained")
    assert len([c for c in _cards(w, w.general) if "Weekly incident digest" in str(c)]) == 1


def test_a_chart_too_big_for_a_teams_message_is_left_out_with_a_note() -> None:
    weeks = tuple(WeekBucket(start=week_start(datetime(2026, 5, 4, tzinfo=UTC)) + timedelta(weeks=n),
                             counts={"checkout": n + 1}, mttr_seconds=600.0 * (n + 1)) for n in range(8))
    digest = build_digest([], [], scope="acme", week=weeks[-1].start)
    digest = digest.__class__(scope="acme", week=weeks[-1].start, series=WeeklySeries(weeks, ("checkout",)))
    small = digest_card(digest, lambda: render_chart(digest.series, title="acme", size=COMPACT, palette_colours=16))
    assert any(e.get("type") == "Image" for e in small["body"])
    huge = digest_card(digest, lambda: b"\x89PNG" + bytes(range(256)) * 100)  # ~34 KB once encoded
    assert not any(e.get("type") == "Image" for e in huge["body"]) and "did not fit" in str(huge)
    assert len(str(huge)) < MESSAGE_BUDGET
