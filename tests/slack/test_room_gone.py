"""Posts to an incident channel that can no longer take them (archived by someone, deleted, the bot removed)
end as skipped, with the reason logged and recorded, instead of being retried until they are dead letters."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from slack_sdk.errors import SlackApiError

from emulators.slack import SlackEmulator
from handlers.slack.outbound import SlackChat, make_client
from incident_core import richtext as rt
from incident_core.services.platforms import RoomGone, RoomRef
from incident_core.state import IncidentState
from storage.delivery_steps import SqlDeliverySteps
from storage.outbox_admin import SqlOutboxAdmin
from tests.slack.conftest import SlackWorld, eventually
from tests.slack.test_suggestions import DEMO, alert, guidance_posts, hook


@pytest.fixture
def slack_overrides() -> dict[str, Any]:
    return {"executor_delay": 0}


def resolved(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "status": "resolved", "alerts": [{**a, "status": "resolved"} for a in payload["alerts"]]}


def new_kind(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "alerts": [{**a, "labels": {**a["labels"], "alertname": "HighLatency"},
                                   "fingerprint": "99" + a["fingerprint"][2:]} for a in payload["alerts"][:1]]}


def test_guidance_and_notices_for_an_archived_channel_are_skipped_not_retried(
        slack_world: SlackWorld, caplog: pytest.LogCaptureFixture) -> None:
    w = slack_world
    caplog.set_level(logging.INFO)
    w.app.knowledge.ingest(DEMO, w.org_id)
    w.app.directory.update_org_settings(w.org_id, {"slack": {"auto_channel": True}})
    token, payload = w.app.directory.issue_token(w.org_id), alert()
    assert hook(w, token, payload) == 202
    channel = w.channel_of()
    eventually(lambda: guidance_posts(w, channel), what="guidance when the room opened")
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="the room's deliveries done")
    SlackChat(make_client(w.slack.bot_token, w.slack.api_url)).archive(channel)  # someone archives it early
    posts = len(w.slack.calls("chat.postMessage"))
    assert hook(w, token, new_kind(payload)) == 202  # guidance for the new kind of signal is due
    assert hook(w, token, resolved(new_kind(payload))) == 202
    assert hook(w, token, resolved(payload)) == 202  # every signal resolved: the all-clear notice is due
    eventually(lambda: "AllClearReached" in w.events() and w.events().count("GuidanceOffered") == 2,
               what="the new offer and the all clear recorded")
    eventually(lambda: w.app.outbox.pending(w.org_id) == 0, what="every delivery done, none left to retry")
    assert SqlOutboxAdmin(w.app.engine).dead_letters(w.org_id) == []
    refused = w.slack.calls("chat.postMessage")[posts:]
    assert refused and all(c.get("channel") == channel for c in refused)  # each was tried once, and refused
    assert len(refused) == 2
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("guidance" in m and "archived" in m for m in skipped), skipped
    assert any("notice" in m and "archived" in m for m in skipped), skipped
    steps = SqlDeliverySteps(w.app.engine)
    state = w.incident()
    guidance_key = next(e.batch_id for e in w.app.queries.timeline(w.org_id, state.incident_id)
                        if e.type_name == "GuidanceOffered" and e.trigger == "new_signal")
    assert steps.steps(w.org_id, f"guidance:{guidance_key}:slack")["sent"] == {"skipped": "the channel is archived"}


def test_only_answers_meaning_the_channel_is_gone_end_a_post(slack: SlackEmulator) -> None:
    """channel_not_found (deleted, or private without the bot) and is_archived are for good; a revoked token or a
    Slack outage is not (it raises as it was, and the outbox retries)."""
    chat = SlackChat(make_client(slack.bot_token, slack.api_url))
    state = cast(IncidentState, SimpleNamespace(incident_id="i-1", human_id="INC-1"))
    hidden = slack.create_channel("inc-private", private=True, members=[slack.create_user("erin").id])
    archived = slack.create_channel("inc-archived", join_bot=True)
    chat.archive(archived.id)
    for channel, reason in ((hidden.id, "the channel is gone"), ("C0DELETED", "the channel is gone"),
                            (archived.id, "the channel is archived")):
        with pytest.raises(RoomGone, match=reason):
            chat.post_notice(state, RoomRef(channel, None), rt.doc("the all clear"), key="k", snooze=None)
    slack.revoke_token(slack.bot_token)
    with pytest.raises(SlackApiError, match="token_revoked"):
        chat.post_notice(state, RoomRef(archived.id, None), rt.doc("the all clear"), key="k", snooze=None)
