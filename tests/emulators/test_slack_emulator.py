"""Slack emulator through the real slack_sdk clients."""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from emulators.slack import SlackEmulator

HEADER: dict[str, Any] = {"type": "header", "text": {"type": "plain_text", "text": "SEV2 · API latency"}}


def client(slack: SlackEmulator, token: str | None = None) -> WebClient:
    return WebClient(token=token or slack.bot_token, base_url=slack.base_url + "/")


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as info:
        call()
    return dict(info.value.response.data)


def test_auth_test_and_token_errors(slack: SlackEmulator) -> None:
    me = client(slack).auth_test()
    assert (me["team_id"], me["user_id"], me["bot_id"]) == (slack.team_id, slack.bot_user_id, slack.bot_id)
    assert error_of(lambda: client(slack, "xoxb-wrong").auth_test())["error"] == "invalid_auth"
    assert error_of(lambda: WebClient(base_url=slack.api_url).auth_test())["error"] == "not_authed"


def test_unknown_method_answers_unknown_method(slack: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as info:
        client(slack).api_call("incidents.frobnicate")
    assert info.value.response.status_code == 200
    assert info.value.response.data == {
        "ok": False,
        "error": "unknown_method",
        "req_method": "incidents.frobnicate",
    }


def test_users_lookup(slack: SlackEmulator) -> None:
    alice = slack.create_user("alice", "Alice Adams", "alice@example.com")
    web = client(slack)
    assert web.users_lookupByEmail(email="ALICE@example.com")["user"]["id"] == alice.id
    info = web.users_info(user=alice.id)["user"]
    assert (info["real_name"], info["profile"]["email"], info["is_bot"]) == (
        "Alice Adams",
        "alice@example.com",
        False,
    )
    assert error_of(lambda: web.users_lookupByEmail(email="nobody@example.com"))["error"] == "users_not_found"
    assert error_of(lambda: web.users_info(user="U404"))["error"] == "user_not_found"
    names = [m["name"] for page in web.users_list(limit=1) for m in page["members"]]
    assert names == ["revenant", "alice"]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Inc-Upper", "invalid_name_specials"),
        ("inc 42", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("---", "invalid_name_punctuation"),
        ("", "invalid_name_required"),
    ],
)
def test_conversations_create_validates_names_like_slack(slack: SlackEmulator, name: str, error: str) -> None:
    assert error_of(lambda: client(slack).conversations_create(name=name))["error"] == error


def test_create_name_taken_and_channel_shape(slack: SlackEmulator) -> None:
    web = client(slack)
    created = web.conversations_create(name="inc-2025-0412-api-latency", is_private=True)["channel"]
    assert created["is_private"] and created["is_member"] and created["creator"] == slack.bot_user_id
    assert created["name_normalized"] == "inc-2025-0412-api-latency" and created["id"].startswith("C")
    assert (
        error_of(lambda: web.conversations_create(name="inc-2025-0412-api-latency"))["error"] == "name_taken"
    )
    web.conversations_archive(channel=created["id"])
    assert (
        error_of(lambda: web.conversations_create(name="inc-2025-0412-api-latency"))["error"] == "name_taken"
    )
    assert slack.channel("inc-2025-0412-api-latency").is_archived


def test_membership_rules_for_posting_inviting_and_reading(slack: SlackEmulator) -> None:
    alice = slack.create_user("alice")
    bob = slack.create_user("bob")
    public = slack.create_channel("ops", members=[alice.id])
    private = slack.create_channel("secret", private=True, members=[alice.id])
    web = client(slack)
    assert web.chat_postMessage(channel=public.id, text="via chat:write.public")["ok"]
    assert (
        error_of(lambda: web.chat_postMessage(channel=private.id, text="x"))["error"] == "channel_not_found"
    )
    assert (
        error_of(lambda: web.conversations_invite(channel=public.id, users=bob.id))["error"]
        == "not_in_channel"
    )
    assert error_of(lambda: web.conversations_history(channel=public.id))["error"] == "not_in_channel"
    no_public = slack.add_token("xoxb-no-public", scopes={"chat:write"})
    assert error_of(lambda: client(slack, no_public.value).chat_postMessage(channel=public.id, text="x"))[
        "error"
    ] == ("not_in_channel")
    web.conversations_join(channel=public.id)
    again = web.conversations_join(channel=public.id)
    assert again["warning"] == "already_in_channel"
    assert web.conversations_invite(channel=public.id, users=bob.id)["channel"]["id"] == public.id
    failed = error_of(
        lambda: web.conversations_invite(channel=public.id, users=f"{bob.id},{slack.bot_user_id}")
    )
    assert failed["error"] == "already_in_channel"
    assert {e["error"] for e in failed["errors"]} == {"already_in_channel", "cant_invite_self"}
    carol = slack.create_user("carol")
    forced = web.conversations_invite(channel=public.id, users=f"{bob.id},{carol.id}", force=True)
    assert forced["errors"] == [{"user": bob.id, "ok": False, "error": "already_in_channel"}]
    assert carol.id in web.conversations_members(channel=public.id)["members"]
    web.conversations_kick(channel=public.id, user=carol.id)
    assert (
        error_of(lambda: web.conversations_kick(channel=public.id, user=carol.id))["error"]
        == "not_in_channel"
    )
    assert error_of(lambda: web.conversations_join(channel=private.id))["error"] == "channel_not_found"
    assert error_of(lambda: web.conversations_info(channel="ops"))["error"] == "channel_not_found"  # ids only


def test_messages_threads_updates_and_history(slack: SlackEmulator) -> None:
    alice = slack.create_user("alice")
    web = client(slack)
    channel = web.conversations_create(name="inc-1")["channel"]["id"]
    root = web.chat_postMessage(channel=channel, text="Incident declared", blocks=[HEADER])
    assert root["message"]["bot_id"] == slack.bot_id and root["message"]["blocks"][0]["type"] == "header"
    reply = web.chat_postMessage(channel=channel, text="first step", thread_ts=root["ts"])
    slack.post_as(
        alice.id, channel, "on it", thread_ts=reply["ts"]
    )  # replying to a reply threads on the root
    thread = web.conversations_replies(channel=channel, ts=root["ts"])["messages"]
    assert [m["text"] for m in thread] == ["Incident declared", "first step", "on it"]
    assert thread[0]["reply_count"] == 2 and thread[0]["reply_users"] == [slack.bot_user_id, alice.id]
    history = [m["text"] for m in web.conversations_history(channel=channel)["messages"]]
    assert history[0] == "Incident declared" and "first step" not in history
    updated = web.chat_update(channel=channel, ts=root["ts"], text="Incident mitigated")
    assert updated["message"]["edited"]["user"] == slack.bot_user_id
    human = slack.post_as(alice.id, channel, "mine")
    assert (
        error_of(lambda: web.chat_update(channel=channel, ts=human["ts"], text="x"))["error"]
        == "cant_update_message"
    )
    assert (
        error_of(lambda: web.chat_update(channel=channel, ts="1.000000", text="x"))["error"]
        == "message_not_found"
    )
    with pytest.warns(UserWarning):  # slack_sdk warns about the missing text before sending
        assert error_of(lambda: web.chat_postMessage(channel=channel))["error"] == "no_text"
    link = web.chat_getPermalink(channel=channel, message_ts=reply["ts"])["permalink"]
    assert link.endswith(f"?thread_ts={root['ts']}&cid={channel}")
    web.chat_delete(channel=channel, ts=reply["ts"])
    assert [m["text"] for m in slack.thread(channel, root["ts"])] == ["Incident mitigated", "on it"]
    seen = [
        (len(page["messages"]), page["has_more"])
        for page in web.conversations_history(channel=channel, limit=2)
    ]
    assert seen[0] == (2, True) and seen[-1][1] is False
    assert sum(n for n, _ in seen) == len(web.conversations_history(channel=channel)["messages"])


def test_invalid_blocks_are_rejected_with_slack_messages(slack: SlackEmulator) -> None:
    web = client(slack)
    blocks = [HEADER] * 51
    data = error_of(lambda: web.chat_postMessage(channel="general", text="x", blocks=blocks))
    assert data["error"] == "invalid_blocks"
    assert any("no more than 50 items" in m for m in data["response_metadata"]["messages"])


def test_reactions_pins_bookmarks_and_topic(slack: SlackEmulator) -> None:
    web = client(slack)
    channel = web.conversations_create(name="inc-2")["channel"]["id"]
    ts = web.chat_postMessage(channel=channel, text="summary")["ts"]
    web.reactions_add(channel=channel, timestamp=ts, name="eyes")
    assert (
        error_of(lambda: web.reactions_add(channel=channel, timestamp=ts, name="eyes"))["error"]
        == "already_reacted"
    )
    message = web.reactions_get(channel=channel, timestamp=ts)["message"]
    assert message["reactions"] == [{"name": "eyes", "users": [slack.bot_user_id], "count": 1}]
    web.pins_add(channel=channel, timestamp=ts)
    assert error_of(lambda: web.pins_add(channel=channel, timestamp=ts))["error"] == "already_pinned"
    assert [i["message"]["ts"] for i in web.pins_list(channel=channel)["items"]] == [ts]
    bookmark = web.bookmarks_add(
        channel_id=channel, title="Runbook", type="link", link="https://runbooks/api"
    )
    assert bookmark["bookmark"]["link"] == "https://runbooks/api"
    for i in range(99):
        web.bookmarks_add(channel_id=channel, title=f"b{i}", type="link", link="https://x")
    too_many = lambda: web.bookmarks_add(channel_id=channel, title="one more", type="link", link="https://x")  # noqa: E731
    assert error_of(too_many)["error"] == "too_many_bookmarks"
    assert len(web.bookmarks_list(channel_id=channel)["bookmarks"]) == 100
    assert web.conversations_setTopic(channel=channel, topic="SEV2 · mitigating")["channel"]["topic"][
        "value"
    ] == ("SEV2 · mitigating")
    assert (
        error_of(lambda: web.conversations_setPurpose(channel=channel, purpose="x" * 251))["error"]
        == "too_long"
    )


def test_trigger_ids_are_single_use_and_expire() -> None:
    now = [1_700_000_000.0]
    with SlackEmulator(clock=lambda: now[0]) as slack:
        alice = slack.create_user("alice")
        web = client(slack)
        view = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"}, "blocks": [HEADER]}
        trigger = slack.issue_trigger_id(alice.id)
        opened = web.views_open(trigger_id=trigger, view=view)["view"]
        assert opened["root_view_id"] == opened["id"] and opened["type"] == "modal"
        assert (
            error_of(lambda: web.views_open(trigger_id=trigger, view=view))["error"] == "exchanged_trigger_id"
        )
        late = slack.issue_trigger_id(alice.id)
        now[0] += 3.5
        assert error_of(lambda: web.views_open(trigger_id=late, view=view))["error"] == "expired_trigger_id"
        assert (
            error_of(lambda: web.views_open(trigger_id="1.2.bogus", view=view))["error"]
            == "invalid_arguments"
        )
        for _ in range(2):
            web.views_push(trigger_id=slack.issue_trigger_id(alice.id), view=view)
        pushed = lambda: web.views_push(trigger_id=slack.issue_trigger_id(alice.id), view=view)  # noqa: E731
        assert error_of(pushed)["error"] == "push_limit_reached"
        assert len(slack.modal_stack(alice.id)) == 3
        stale = web.views_update(view_id=opened["id"], view=view, hash=opened["hash"])["view"]
        conflict = lambda: web.views_update(view_id=opened["id"], view=view, hash=opened["hash"])  # noqa: E731
        assert stale["hash"] != opened["hash"] and error_of(conflict)["error"] == "hash_conflict"
        long_title = dict(view, title={"type": "plain_text", "text": "A title longer than 24 chars"})
        bad = error_of(lambda: web.views_open(trigger_id=slack.issue_trigger_id(alice.id), view=long_title))
        assert bad["error"] == "invalid_arguments"
        home = {"type": "home", "blocks": [HEADER]}
        assert web.views_publish(user_id=alice.id, view=home)["view"]["type"] == "home"
        assert slack.home_view(alice.id) is not None


def test_rate_limit_storm_is_retried_without_losing_messages(slack: SlackEmulator) -> None:
    slack.inject("chat.postMessage", status=429, retry_after=0, times=4)
    web = client(slack)
    web.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    threads = [
        threading.Thread(target=lambda i=i: web.chat_postMessage(channel="general", text=f"update {i}"))
        for i in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    texts = sorted(m["text"] for m in slack.messages("general"))
    assert texts == [f"update {i}" for i in range(6)]
    statuses = [r.status for r in slack.requests.filter("chat.postMessage")]
    assert statuses.count(429) == 4 and statuses.count(200) == 6
    limited = slack.requests.filter("chat.postMessage")[0]
    assert limited.headers["Authorization"] == f"Bearer {slack.bot_token}"


def test_rate_limit_without_retry_handler_surfaces_ratelimited(slack: SlackEmulator) -> None:
    slack.inject("chat.postMessage", status=429, retry_after=30)
    with pytest.raises(SlackApiError) as info:
        client(slack).chat_postMessage(channel="general", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "30"
    assert info.value.response.data == {"ok": False, "error": "ratelimited"}


async def test_async_client_with_rate_limit_handler(slack: SlackEmulator) -> None:
    slack.inject("conversations.create", status=429, retry_after=0, times=1)
    web = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    web.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    created = await web.conversations_create(name="inc-async")
    await web.chat_postMessage(channel=created["channel"]["id"], text="hello")
    assert [m["text"] for m in slack.messages("inc-async")] == ["hello"]


def test_response_url_posts_are_recorded_and_applied(slack: SlackEmulator) -> None:
    alice = slack.create_user("alice")
    channel = slack.create_channel("inc-3", members=[alice.id], join_bot=True)
    url = slack.response_url(channel.id, alice.id)
    assert WebhookClient(url).send(text="only for you").status_code == 200
    assert WebhookClient(url).send(text="for everyone", response_type="in_channel").status_code == 200
    assert [p["text"] for p in slack.responses(url)] == ["only for you", "for everyone"]
    assert slack.ephemerals(channel.id, alice.id)[0]["text"] == "only for you"
    assert slack.messages(channel.id)[-1]["text"] == "for everyone"
    for _ in range(3):
        WebhookClient(url).send(text="again")
    assert WebhookClient(url).send(text="sixth").status_code == 404


def test_oauth_v2_access_exchanges_a_code_once(slack: SlackEmulator) -> None:
    installer = slack.create_user("owner", is_admin=True)
    code = slack.oauth_code(user_id=installer.id, user_scopes=["search:read"])
    anonymous = WebClient(base_url=slack.api_url)
    bad = lambda: anonymous.oauth_v2_access(client_id=slack.client_id, client_secret="nope", code=code)  # noqa: E731
    assert error_of(bad)["error"] == "bad_client_secret"
    result = anonymous.oauth_v2_access(
        client_id=slack.client_id, client_secret=slack.client_secret, code=code
    )
    assert result["team"] == {"name": "Emulated Workspace", "id": slack.team_id}
    assert result["access_token"].startswith("xoxb-") and result["authed_user"]["id"] == installer.id
    assert result["authed_user"]["access_token"].startswith("xoxp-")
    assert client(slack, result["access_token"]).auth_test()["bot_id"] == slack.bot_id
    again = partial(
        anonymous.oauth_v2_access, client_id=slack.client_id, client_secret=slack.client_secret, code=code
    )
    assert error_of(again)["error"] == "invalid_code"


def test_render_channel_reads_like_slack(slack: SlackEmulator) -> None:
    alice = slack.create_user("alice", "Alice Adams")
    web = client(slack)
    channel = web.conversations_create(name="inc-4")["channel"]["id"]
    web.conversations_invite(channel=channel, users=alice.id)
    web.conversations_setTopic(channel=channel, topic="SEV2")
    blocks: list[dict[str, Any]] = [
        HEADER,
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Commander: <@{alice.id}>"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "risk: low"}]},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "action_id": "ack"}
            ],
        },
    ]
    root = web.chat_postMessage(channel=channel, text="fallback", blocks=blocks)["ts"]
    web.pins_add(channel=channel, timestamp=root)
    slack.react_as(alice.id, channel, root, "eyes")
    slack.post_as(alice.id, channel, "looking at the dashboards", thread_ts=root)
    text = slack.render_channel(channel)
    assert text.startswith("#inc-4\nTopic: SEV2\n")
    assert "revenant [APP]: SEV2 · API latency 📌 pinned" in text
    assert "    Commander: @alice" in text and "    [Acknowledge]" in text and "    :eyes: 1" in text
    assert "  ↳ [" in text and "alice: looking at the dashboards" in text
    assert "fallback" not in text
