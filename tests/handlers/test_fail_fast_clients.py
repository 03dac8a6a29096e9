"""Chat clients fail fast on a broken connection: one attempt, then the outbox decides when to retry."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from botbuilder.schema import Activity
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity

from bot.teams_connector import FailFastAuthentication
from handlers.slack.outbound import make_client


class Hangup:
    """A TCP listener that accepts each connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.count = 0
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        conn.close()


@pytest.fixture
def hangup() -> Iterator[Hangup]:
    server = Hangup()
    yield server
    server.sock.close()


def test_the_slack_client_does_not_retry_a_dropped_connection(hangup: Hangup) -> None:
    client = make_client("xoxb-test", f"http://127.0.0.1:{hangup.port}/api/")
    with pytest.raises(Exception):  # noqa: B017 — whichever connection error urllib raises
        client.chat_postMessage(channel="C1", text="hi")
    assert hangup.count == 1


def test_the_teams_connector_client_does_not_retry_a_dropped_connection(hangup: Hangup) -> None:
    auth = FailFastAuthentication(SimpleNamespace(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant"))
    identity = ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: ""}, True)

    made = []

    async def send() -> None:
        factory = auth.create_connector_factory(identity)
        made.append(client := await factory.create(f"http://127.0.0.1:{hangup.port}/", None))
        await client.conversations.send_to_conversation("19:x@thread.tacv2", Activity(type="message", text="hi"))

    with pytest.raises(Exception):  # noqa: B017
        asyncio.run(send())
    assert hangup.count == 1
    retry = made[0].config.retry_policy()  # what requests gets: msrest's default retries a refused connect 3 times
    assert retry.total == 0 and retry.connect == 0
