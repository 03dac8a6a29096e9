"""The outbound Slack clients send over kept-alive connections (bot/slack_transport.py): one connection for many
calls and many orgs, a 429's Retry-After still waited out, a connection the server closed replaced, and a
dropped call never sent again by the transport."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_chats import OrgSlackClient
from bot.slack_transport import KeptAliveTransport, SlackConnections
from emulators.slack import SlackEmulator
from handlers.slack.outbound import make_client
from tests.handlers.test_fail_fast_clients import Hangup


def client(token: str, url: str, connections: SlackConnections, refused: list[str] | None = None) -> WebClient:
    seen = refused if refused is not None else []
    return OrgSlackClient(make_client(token, url, timeout=5), lambda: seen.append(token),
                          KeptAliveTransport(connections))


def test_many_calls_of_many_orgs_share_one_connection() -> None:
    connections = SlackConnections()
    with SlackEmulator() as slack:
        other = slack.create_team("Other", "other", bot_token="xoxb-other-team")
        a, b = client(slack.bot_token, slack.api_url, connections), client("xoxb-other-team", slack.api_url, connections)
        channel = a.conversations_create(name="kept-alive")["channel"]["id"]
        for i in range(10):
            a.chat_postMessage(channel=channel, text=f"update {i}")
            assert b.auth_test()["team_id"] == other.id  # the other org's token, on the same connection
        assert a.auth_test()["team_id"] == slack.team_id
        history = a.conversations_history(channel=channel, limit=50)["messages"]
        assert sorted(m["text"] for m in history if m["text"].startswith("update")) == [f"update {i}" for i in range(10)]
    assert connections.opened == 1
    connections.close()


def test_a_429_is_waited_out_and_errors_raise_as_before() -> None:
    connections = SlackConnections()
    refused: list[str] = []
    with SlackEmulator() as slack:
        c = client(slack.bot_token, slack.api_url, connections, refused)
        channel = c.conversations_create(name="limited")["channel"]["id"]
        fault = slack.inject("chat.postMessage", status=429, retry_after=1, times=1)
        started = time.monotonic()
        ts = c.chat_postMessage(channel=channel, text="after the limit")["ts"]
        assert fault.exhausted and time.monotonic() - started >= 0.9 and ts
        with pytest.raises(SlackApiError) as missing:
            c.chat_postMessage(channel="C_NOPE", text="x")
        assert missing.value.response["error"] == "channel_not_found" and refused == []
        with pytest.raises(SlackApiError):
            client("xoxb-not-a-token", slack.api_url, connections, refused).auth_test()
        assert refused == ["xoxb-not-a-token"]  # a refused token is reported (the org's cached adapter drops)
    connections.close()


class OneAnswerServer(Hangup):
    """Answers one request per connection with HTTP/1.1 keep-alive headers, then closes the connection anyway
    (as a server closes an idle connection); or, with `answer=False`, closes without answering."""

    def __init__(self, answer: bool = True) -> None:
        self.answer, self.requests = answer, 0
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        self.requests += 1
        if self.answer:
            reply = b'{"ok":true,"ts":"1.2"}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(reply)).encode() + b"\r\n\r\n" + reply)
        conn.close()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"


@pytest.fixture
def one_answer() -> Iterator[OneAnswerServer]:
    server = OneAnswerServer()
    yield server
    server.sock.close()


def test_a_connection_the_server_closed_is_replaced(one_answer: OneAnswerServer) -> None:
    connections = SlackConnections()
    c = client("xoxb-test", one_answer.url(), connections)
    for _ in range(3):
        assert c.chat_postMessage(channel="C1", text="hi")["ts"] == "1.2"
        time.sleep(0.2)  # the server's close reaches the idle connection
    assert one_answer.count == 3 and one_answer.requests == 3
    connections.close()


def test_a_call_whose_answer_never_came_is_not_sent_again() -> None:
    server = OneAnswerServer(answer=False)
    try:
        c = client("xoxb-test", server.url(), SlackConnections())
        with pytest.raises(Exception):  # noqa: B017 — the connection error as http.client raises it
            c.chat_postMessage(channel="C1", text="hi")
        assert server.requests == 1 and server.count == 1  # the outbox's retry looks for what it made
    finally:
        server.sock.close()
