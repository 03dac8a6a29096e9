"""The outbox keys each subscriber's delivery state by its name: the wiring keeps every name it had before the
subscribers became application services (a renamed one would deliver every old message again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.bootstrap import bootstrap
from bot.delivery import named, ordering
from bot.settings import Settings
from bot.worker import subscribers

BEFORE = {
    "incident.changed": ["RecurrenceWatcher", "SlackRoomKeeper", "TeamsRoomKeeper", "GuidanceOfferer", "AutoDrafter"],
    "room.archive": ["SlackRoomArchiver"],
    "guidance.posted": ["SlackGuidancePosting", "TeamsGuidancePosting"],
    "chat.notice": ["ChatNotices", "TeamsNotices"],
    "postmortem.publish": ["PostmortemPublishing"],
    "insights.digest": ["SlackDigestPosting", "TeamsDigestPosting"],
}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_slack_and_teams_register_the_same_way_and_keep_their_subscriber_names(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=db_url, slack_signing_secret=SecretStr("s" * 32),  # type: ignore[call-arg]
                        slack_bot_token=SecretStr("xoxb-test"), teams_allow_unauthenticated=True)
    app = bootstrap(settings, migrate=True)
    try:
        topics = named(subscribers(app))
        names = {topic: [name for name, _fn in fns] for topic, fns in topics.items()}
        for topic, before in BEFORE.items():  # every old name is still there (Teams gains its archiver)
            assert set(before) <= set(names[topic]), topic
        assert names["room.archive"] == ["SlackRoomArchiver", "TeamsRoomArchiver"]
        after = ordering(topics)
        assert after["SlackRoomKeeper"] == after["TeamsRoomKeeper"] == ("RecurrenceWatcher",)
        assert after["GuidanceOfferer"] == ("SlackRoomKeeper", "TeamsRoomKeeper")
    finally:
        app.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_without_a_chat_platform_only_the_platform_free_services_run(db_url: str, tmp_path: Path) -> None:
    app = bootstrap(Settings(data_dir=tmp_path, database_url=db_url), migrate=True)  # type: ignore[call-arg]
    try:
        names = {topic: [name for name, _fn in fns] for topic, fns in named(subscribers(app)).items()}
        assert names == {"incident.changed": ["RecurrenceWatcher", "AutoDrafter"],
                         "postmortem.publish": ["PostmortemPublishing"]}
    finally:
        app.close()
