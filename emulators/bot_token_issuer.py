"""A local Bot Framework token issuer: RSA key, OpenID metadata, JWKS and RS256 tokens."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CHANNEL_ISSUER = "https://api.botframework.com"
CHANNEL_AUDIENCE = "https://api.botframework.com"
DEFAULT_ENDORSEMENTS = ("msteams", "webchat", "directline", "emulator", "test", "slack")


class TokenIssuer:
    """Signs tokens like the Bot Framework channel service and AAD do, with a key generated at start."""

    def __init__(self, endorsements: Iterable[str] = DEFAULT_ENDORSEMENTS) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_urlsafe(16)
        self.endorsements = list(endorsements)

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK with the Bot Framework's endorsements list."""
        data: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        data.update(
            {
                "kid": self.kid,
                "use": "sig",
                "alg": "RS256",
                "x5t": self.kid,
                "endorsements": self.endorsements,
            }
        )
        return data

    def jwks(self) -> dict[str, Any]:
        """The JWKS document (`{"keys": [...]}`)."""
        return {"keys": [self.jwk()]}

    def openid_configuration(self, base_url: str) -> dict[str, Any]:
        """OpenID metadata like https://login.botframework.com/v1/.well-known/openidconfiguration."""
        return {
            "issuer": CHANNEL_ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": f"{base_url}/v1/.well-known/keys",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT over `claims` with this issuer's kid."""
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid, "typ": "JWT"}
        )

    def channel_token(
        self,
        app_id: str,
        service_url: str | None,
        *,
        expires_in: int = 3600,
        now: float | None = None,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A channel → bot token: iss api.botframework.com, aud = the bot's app id, serviceurl claim."""
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": CHANNEL_ISSUER,
            "aud": app_id,
            "nbf": issued - 300,
            "exp": issued + expires_in,
        }
        if service_url is not None:
            claims["serviceurl"] = service_url
        claims.update(extra_claims or {})
        return self.sign(claims)

    def bot_token(self, app_id: str, tenant: str = "botframework.com", *, expires_in: int = 3600) -> str:
        """A bot → channel access token, as AAD issues for the api.botframework.com scope."""
        issued = int(time.time())
        claims = {
            "aud": CHANNEL_AUDIENCE,
            "iss": f"https://sts.windows.net/{tenant}/",
            "appid": app_id,
            "tid": tenant,
            "ver": "1.0",
            "iat": issued,
            "nbf": issued - 300,
            "exp": issued + expires_in,
        }
        return self.sign(claims)

    def verify(self, token: str, *, audience: str | None = None) -> dict[str, Any]:
        """Decode a token signed by this issuer (raises jwt.InvalidTokenError otherwise)."""
        return jwt.decode(
            token,
            self._key.public_key(),
            algorithms=["RS256"],
            audience=audience,
            options={"verify_aud": audience is not None},
        )
