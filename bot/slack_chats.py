"""The outbound Slack adapter per org, built once and kept (bot/chat_cache.py) rather than rebuilt for every
delivered message: the org's bound workspaces, its bot token (opened from the sealed installation) and the
WebClient are read and made once per entry. Every org's client sends over the same kept-alive connections
(bot/slack_transport.py) instead of a new connection per call.

The client tells the cache when Slack refuses its token (`invalid_auth`, `token_revoked`, …): the org's entry
is dropped at once, so the next delivery reads the installation again (a reinstall's new token) instead of
retrying with the refused one until the entry expires. Tokens are never logged.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.bootstrap import App
from bot.chat_cache import ChatCache
from bot.slack_transport import KeptAliveTransport
from bot.slack_wiring import api_url, installation_store, slack_mode
from handlers.slack.outbound import SlackChat, make_client

log = logging.getLogger("revenant.slack")

# Slack's answers meaning the token itself is no good (revoked, app uninstalled, workspace or user deactivated).
TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                           "org_login_required"})


class OrgSlackClient(WebClient):
    """A WebClient configured as `made` (make_client's retry policy and timeout) that sends over kept-alive
    connections and calls `refused()` when Slack refuses its token, then raises as before."""

    def __init__(self, made: WebClient, refused: Callable[[], None], transport: KeptAliveTransport) -> None:
        super().__init__(token=made.token, base_url=made.base_url, timeout=made.timeout,
                         retry_handlers=made.retry_handlers)
        self._refused = refused
        self._transport = transport

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        """slack_sdk's one place that opens a connection and reads the answer: here over a kept connection."""
        if self.proxy is not None or not url.lower().startswith(("http://", "https://")):
            return super()._perform_urllib_http_request_internal(url, req)
        context = self.ssl if isinstance(self.ssl, ssl.SSLContext) else None
        return self._transport.send(url, req, timeout=self.timeout, context=context)

    def api_call(self, *args: Any, **kwargs: Any) -> SlackResponse:
        try:
            return super().api_call(*args, **kwargs)
        except SlackApiError as exc:
            if str(exc.response.get("error")) in TOKEN_REFUSED:
                self._refused()
            raise


def slack_chat_for(app: App) -> Callable[[str], SlackChat | None]:
    """The outbound Slack adapter for an org, or None when the org has no Slack workspace bound (or no token).
    `app.overrides["chat_cache"]` may set the cache's `ttl` and `clock`."""
    s = app.settings
    mode = slack_mode(app)
    base_url = api_url(app)
    token_client = make_client(s.slack_bot_token.get_secret_value(), base_url, timeout=s.slack_timeout) if (
        mode == "token" and s.slack_bot_token) else None
    store = installation_store(app) if mode == "oauth" else None
    transport = KeptAliveTransport(app.slack_connections)
    warned: set[str] = set()  # "no adapter" is built again at every call (bot/chat_cache.py): say it once

    def build(org_id: str) -> SlackChat | None:
        teams = app.directory.bindings(org_id, "slack") if mode else []
        if not teams:
            return None
        if token_client is not None:
            owner = app.slack_identity.get()  # IdentityUnknown: the outbox retries this message later
            if not any(owner.owns(team) for team in teams):
                mismatch = f"{org_id}:{','.join(teams)}:{owner.team_id}"
                log.log(logging.DEBUG if mismatch in warned else logging.WARNING,
                        "org %s is linked to Slack workspace(s) %s, but SLACK_BOT_TOKEN belongs to %s: no Slack "
                        "rooms for it (several workspaces need OAuth installs)", org_id, ", ".join(teams),
                        owner.team_id)
                warned.add(mismatch)
                return None
            return SlackChat(OrgSlackClient(token_client, lambda: chats.drop(org_id), transport))
        token = store.bot_token(teams[0]) if store else None
        if not token:
            return None
        made = make_client(token, base_url, timeout=s.slack_timeout)
        return SlackChat(OrgSlackClient(made, lambda: chats.drop(org_id), transport))

    chats: ChatCache[SlackChat] = ChatCache(build, app.chat_changes, **app.overrides.get("chat_cache", {}))
    return chats.get
