"""Inbound Bot Framework tokens checked before botbuilder sees them, with signing keys fetched off the loop.

botframework-connector fetches OpenID metadata and keys with a blocking `requests.get` (no timeout)
on the event loop, fetches again for every token whose `kid` it does not know, and answers an
unknown `kid` with an IndexError (a 500). So /api/messages first reads the token's header itself:
anything but an RS256 token with a `kid` is 401 at once; the keys come from `SigningKeys`, which
fetches with aiohttp and a timeout, remembers keys for a day, refreshes at most once a minute for
an unknown `kid`, and remembers a failed fetch with exponential backoff. A token whose key is known
is handed to botbuilder with its key cache filled from ours, so botbuilder neither fetches nor fails;
an unknown `kid` while the keys cannot be fetched is 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
import jwt
from botframework.connector.auth import AuthenticationConstants
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

KEYS_TTL = 24 * 3600.0
UNKNOWN_KID_REFRESH = 60.0  # an unknown kid refreshes the keys at most this often
BACKOFF = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0, 300.0)


class TokenRejected(Exception):
    """The token is malformed, unsigned, signed with a symmetric or unknown key: 401."""


class KeysUnavailable(Exception):
    """The signing keys cannot be fetched and the token's key is not known yet: 503, retry later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the Bot Framework signing keys cannot be fetched right now; retry shortly")
        self.retry_after = retry_after


class SigningKeys:
    """The JWKS behind one OpenID metadata URL, fetched asynchronously and remembered."""

    def __init__(self, metadata_url: str, *, timeout: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.metadata_url, self.timeout, self.clock = metadata_url, timeout, clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched = float("-inf")
        self._attempted = float("-inf")
        self._failures = 0
        self._lock = asyncio.Lock()
        self.fetches = 0  # metadata fetches attempted (for tests and metrics)

    async def key(self, kid: str) -> dict[str, Any]:
        """The JWK for `kid`; TokenRejected when the issuer does not have it, KeysUnavailable when unknown."""
        if kid in self._keys and self.clock() - self._fetched <= KEYS_TTL:
            return self._keys[kid]
        async with self._lock:
            now = self.clock()
            if not (kid in self._keys and now - self._fetched <= KEYS_TTL):
                if self._failures:
                    may = self._backoff_left(now) <= 0
                else:
                    may = now - self._fetched > KEYS_TTL or now - self._attempted >= UNKNOWN_KID_REFRESH
                if may:
                    await self._refresh()
            if kid in self._keys:  # stale keys still serve while a refresh fails
                return self._keys[kid]
            if self._failures:
                raise KeysUnavailable(max(1, round(self._backoff_left(self.clock()))))
            raise TokenRejected("the token is signed with a key the Bot Framework does not publish")

    def _backoff_left(self, now: float) -> float:
        if not self._failures:
            return 0.0
        return self._attempted + BACKOFF[min(self._failures, len(BACKOFF)) - 1] - now

    async def _refresh(self) -> None:
        self._attempted = self.clock()
        self.fetches += 1
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(self.metadata_url) as r:
                    r.raise_for_status()
                    jwks_uri = (await r.json(content_type=None))["jwks_uri"]
                async with session.get(jwks_uri) as r:
                    r.raise_for_status()
                    keys = (await r.json(content_type=None))["keys"]
            self._keys = {str(k["kid"]): dict(k) for k in keys if isinstance(k, dict) and k.get("kid")}
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
            self._failures += 1
            return
        self._fetched, self._failures = self.clock(), 0
        _fill_botbuilder_cache(self.metadata_url, list(self._keys.values()))

    def check(self, token: str) -> str:
        """The token's kid after the header checks (RS256, a kid); TokenRejected otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("the Authorization header does not carry a JWT") from None
        alg = header.get("alg")
        if alg != "RS256":
            raise TokenRejected(f"tokens signed with {str(alg)[:20]!r} are not accepted (RS256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRejected("the token names no signing key (kid)")
        return kid


def _fill_botbuilder_cache(metadata_url: str, keys: list[dict[str, Any]]) -> None:
    """Give botbuilder's per-URL key cache our keys, so it never fetches them on the event loop itself."""
    metadata = JwtTokenExtractor.get_open_id_metadata(metadata_url)
    metadata.keys = keys
    metadata.last_updated = datetime.now()


def metadata_url(settings: Any) -> str:
    """The OpenID metadata URL botbuilder validates channel tokens against for these settings."""
    return str(getattr(settings, "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", None)
               or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL)
