"""Bot → connector credentials backed by the emulator's AAD-style token endpoint (MSAL only accepts https)."""

from __future__ import annotations

import time

import requests
from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory

from emulators.bot_connector import BotConnectorEmulator


class EmulatorTokenCredentials(AppCredentials):
    """Gets (and caches until shortly before expiry) its bearer token by client credentials from the emulator."""

    def __init__(self, app_id: str, password: str, token_url: str) -> None:
        super().__init__(app_id=app_id)
        self.password = password
        self.token_url = token_url
        self._token = ""
        self._expires = 0.0

    def get_access_token(self, force_refresh: bool = False) -> str:
        """A token for the connector, fetched again when it is about to expire."""
        if force_refresh or time.time() > self._expires:
            form = {"grant_type": "client_credentials", "client_id": self.microsoft_app_id,
                    "client_secret": self.password, "scope": "https://api.botframework.com/.default"}
            answer = requests.post(self.token_url, data=form, timeout=10)
            answer.raise_for_status()
            body = answer.json()
            self._token = str(body["access_token"])
            self._expires = time.time() + int(body.get("expires_in", 3600)) - 300
        return self._token


class EmulatorCredentialsFactory(ServiceClientCredentialsFactory):
    """`ConfigurationBotFrameworkAuthentication(..., credentials_factory=...)` for one app id and the emulator."""

    def __init__(self, connector: BotConnectorEmulator, app_id: str, password: str = "") -> None:
        self.connector = connector
        self.app_id = app_id
        self.password = password

    async def is_valid_app_id(self, app_id: str) -> bool:
        """Only this factory's app id."""
        return app_id == self.app_id

    async def is_authentication_disabled(self) -> bool:
        """Disabled only without an app id, as botbuilder's own factory."""
        return not self.app_id

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        """Credentials that fetch their token from the emulator."""
        return EmulatorTokenCredentials(app_id, self.password, self.connector.token_url())
