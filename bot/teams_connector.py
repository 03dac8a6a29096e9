"""Bot Connector clients that fail fast: a refused or dropped connection raises at once.

msrest's requests sender retries a connection 3 times with backoff by default (about 5 s per call), so
one org's dead connector endpoint held a delivery thread that long before the outbox saw the error.
The outbox retries on its own schedule, per subscriber; the client library must not retry first.
"""

from __future__ import annotations

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import ClaimsIdentity, ConnectorFactory


class _FailFastConnectors(ConnectorFactory):
    def __init__(self, inner: ConnectorFactory) -> None:
        self.inner = inner

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        client = await self.inner.create(service_url, audience)
        client.config.retry_policy.retries = 0  # connect and read retries included
        return client


class FailFastAuthentication(ConfigurationBotFrameworkAuthentication):
    """ConfigurationBotFrameworkAuthentication whose connector clients never retry by themselves."""

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return _FailFastConnectors(super().create_connector_factory(claims_identity))
