"""Token mode serves exactly the workspace SLACK_BOT_TOKEN belongs to, as Slack's auth.test says.

One bot token is one workspace (or one Enterprise Grid org). `TokenIdentity` asks auth.test once and
remembers the answer; a failed call (429, 5xx, timeout) is remembered with backoff, so a Slack outage
costs one call per backoff step, not one per request. Requests from another workspace are refused
with the reason, linking another workspace to an org is refused with the reason, and an org bound to
another workspace gets no Slack rooms: several workspaces need OAuth installs, one per workspace.
While auth.test cannot be answered, requests from a workspace already linked are still served (the
link was checked against auth.test when it was made); they are never dropped with a misleading
"installation no longer available".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.slack.mrkdwn import mrkdwn
from incident_core import richtext as rt

BACKOFF = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)
# Bolt answers a command from another workspace with this text (Slack reads it as mrkdwn): rendered like any reply.
NOT_THIS_WORKSPACE = mrkdwn(rt.doc(
    "This Runbook Revenant app runs with one bot token, which belongs to another Slack workspace, so it does not "
    "serve this one. To use it in several workspaces, an admin configures OAuth (SLACK_CLIENT_ID and "
    "SLACK_CLIENT_SECRET) and installs it in each."))


@dataclass(frozen=True)
class TokenOwner:
    """The workspace (and Enterprise Grid org) a bot token belongs to, and the bot's own ids there."""

    team_id: str
    team: str
    enterprise_id: str | None
    bot_user_id: str | None
    bot_id: str | None

    def owns(self, external_id: str) -> bool:
        """True for the token's workspace id or its enterprise id."""
        return external_id in (self.team_id, self.enterprise_id)


class IdentityUnknown(Exception):
    """auth.test did not answer (yet); `retry_after` seconds until it is asked again."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(f"cannot tell which Slack workspace SLACK_BOT_TOKEN belongs to right now ({reason}); "
                         f"try again in {retry_after} s")
        self.reason, self.retry_after = reason, retry_after


class TokenIdentity:
    """auth.test for one bot token, asked once and remembered; failures remembered with backoff."""

    def __init__(self, token: str, api_url: str, *, timeout: float = 2.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token, self.api_url, self.timeout, self.clock = token, api_url, timeout, clock
        self.owner: TokenOwner | None = None
        self._failures, self._failed_at, self._reason = 0, 0.0, ""
        self._lock = threading.Lock()

    def get(self) -> TokenOwner:
        """The token's workspace (a blocking call the first time); IdentityUnknown while Slack cannot say."""
        if self.owner is not None:
            return self.owner
        with self._lock:
            if self.owner is None:
                self._waiting()
                try:
                    answer = WebClient(token=self.token, base_url=self.api_url,
                                       timeout=self.timeout).auth_test()  # type: ignore[arg-type]  # slack_sdk annotates timeout as int; it takes seconds as a float
                except (SlackApiError, SlackClientError, OSError) as exc:
                    raise self._failed(exc) from None
                self._learn(answer.data)
        assert self.owner is not None
        return self.owner

    async def aget(self) -> TokenOwner:
        """`get` without blocking the event loop."""
        if self.owner is not None:
            return self.owner
        self._waiting()
        try:
            client = AsyncWebClient(token=self.token, base_url=self.api_url, timeout=self.timeout)  # type: ignore[arg-type]  # slack_sdk annotates timeout as int; it takes seconds as a float
            answer = await client.auth_test()
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            raise self._failed(exc) from None
        self._learn(answer.data)
        assert self.owner is not None
        return self.owner

    def _waiting(self) -> None:
        if self._failures:
            left = self._failed_at + BACKOFF[min(self._failures, len(BACKOFF)) - 1] - self.clock()
            if left > 0:
                raise IdentityUnknown(self._reason, max(1, round(left)))

    def _failed(self, exc: Exception) -> IdentityUnknown:
        self._failures += 1
        self._failed_at = self.clock()
        response = getattr(exc, "response", None)
        self._reason = f"auth.test: {response.get('error') or response.status_code}" if response is not None \
            else f"auth.test: {type(exc).__name__}"
        return IdentityUnknown(self._reason, round(BACKOFF[min(self._failures, len(BACKOFF)) - 1]))

    def _learn(self, data: Any) -> None:
        data = dict(data) if isinstance(data, dict) else {}
        self.owner = TokenOwner(team_id=str(data.get("team_id") or ""), team=str(data.get("team") or ""),
                                enterprise_id=data.get("enterprise_id") or None,
                                bot_user_id=data.get("user_id"), bot_id=data.get("bot_id"))
        self._failures = 0

    def authorizer(self) -> Callable[..., Any]:
        """Bolt's `authorize`: this token for its own workspace, nothing for any other one."""

        async def authorize(enterprise_id: str | None = None, team_id: str | None = None,
                            user_id: str | None = None, **_: Any) -> AuthorizeResult | None:
            try:
                owner = await self.aget()
            except IdentityUnknown:  # served on the strength of the checked link; bot ids filled in later
                return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                                       bot_token=self.token)
            if not ((team_id and owner.owns(team_id)) or (enterprise_id and owner.owns(enterprise_id))):
                return None
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id,
                                   bot_token=self.token, bot_user_id=owner.bot_user_id, bot_id=owner.bot_id)

        return authorize
