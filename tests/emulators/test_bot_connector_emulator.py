"""Bot Connector emulator through botframework-connector/botbuilder, and its token issuer through PyJWT."""

from __future__ import annotations

import types
from typing import Any

import jwt
import pytest
import requests
from botbuilder.core import ActivityHandler, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters
from botbuilder.schema.teams import ChannelInfo, TeamsChannelData
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AppCredentials,
    ChannelValidation,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
)
from botframework.connector.models import ErrorResponseException
from botframework.connector.teams import TeamsConnectorClient

from emulators.bot_connector import BotConnectorEmulator

APP_ID = "00000000-0000-0000-0000-0000000app01"


class TokenEndpointCredentials(AppCredentials):
    """Gets its bearer token from the emulator's AAD-style endpoint (MSAL only accepts https)."""

    def __init__(self, app_id: str, token_url: str) -> None:
        super().__init__(app_id=app_id)
        self.token_url = token_url

    def get_access_token(self, force_refresh: bool = False) -> str:
        form = {"grant_type": "client_credentials", "client_id": self.microsoft_app_id, "client_secret": "pw"}
        return str(requests.post(self.token_url, data=form, timeout=5).json()["access_token"])


class EmulatorCredentialsFactory(ServiceClientCredentialsFactory):
    """Credentials for one app id, backed by the emulator."""

    def __init__(self, connector: BotConnectorEmulator) -> None:
        self.connector = connector

    async def is_valid_app_id(self, app_id: str) -> bool:
        return app_id == APP_ID

    async def is_authentication_disabled(self) -> bool:
        return False

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> AppCredentials:
        return TokenEndpointCredentials(app_id, self.connector.token_url())


class EchoBot(ActivityHandler):
    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(f"echo: {turn_context.activity.text}")


def anonymous_client(connector: BotConnectorEmulator) -> ConnectorClient:
    return ConnectorClient(MicrosoftAppCredentials("", ""), base_url=connector.service_url)


async def test_channel_threads_replies_updates_and_members(connector: BotConnectorEmulator) -> None:
    team = connector.create_team("Incident Response", ("General", "incidents"))
    alice = connector.add_member("Alice Adams", team_id=team.id)
    channel = team.channels["incidents"]
    client = anonymous_client(connector)
    params = ConversationParameters(
        is_group=True,
        channel_data=TeamsChannelData(channel=ChannelInfo(id=channel)),
        activity=Activity(type="message", text="INC-7 declared"),
    )
    created = await client.conversations.create_conversation(params)
    assert created.id == f"{channel};messageid={created.activity_id}"
    update = await client.conversations.send_to_conversation(
        created.id, Activity(type="message", text="status: investigating")
    )
    await client.conversations.reply_to_activity(
        created.id, created.activity_id, Activity(type="message", text="ack")
    )
    await client.conversations.update_activity(
        created.id, update.id, Activity(type="message", text="status: mitigated", id=update.id)
    )
    doomed = await client.conversations.send_to_conversation(
        created.id, Activity(type="message", text="oops")
    )
    await client.conversations.delete_activity(created.id, doomed.id)
    texts = [(a["text"], bool(a.get("deleted"))) for a in connector.activities(channel)]
    assert texts == [("INC-7 declared", False), ("status: mitigated", False), ("ack", False), ("oops", True)]
    assert [a["conversation"]["id"] for a in connector.activities(created.id)] == [created.id] * 4
    assert connector.threads(channel) == [created.id]
    members = await client.conversations.get_conversation_members(created.id)
    assert [(m.name, m.id) for m in members] == [("Alice Adams", alice.id)]
    with pytest.raises(ErrorResponseException) as missing:
        await client.conversations.update_activity(
            created.id, "404", Activity(type="message", text="x", id="404")
        )
    assert missing.value.error.error.code == "ActivityNotFound"
    teams = TeamsConnectorClient(MicrosoftAppCredentials("", ""), base_url=connector.service_url)
    assert teams.teams.get_team_details(team.id).name == "Incident Response"  # sync client
    channels = teams.teams.get_teams_channels(team.id)
    assert [c.name for c in channels.conversations] == [None, "incidents"]
    rendered = connector.render_conversation(channel)
    assert rendered.startswith("Incident Response › incidents\n")
    assert "] Revenant: INC-7 declared" in rendered and "  ↳ [" in rendered and "oops" not in rendered


async def test_personal_conversations_and_strict_mode() -> None:
    with BotConnectorEmulator(strict=True) as connector:
        bob = connector.add_member("Bob Brown")
        client = anonymous_client(connector)
        params = ConversationParameters(
            members=[ChannelAccount(id=bob.id)], tenant_id=connector.state.tenant_id
        )
        first = await client.conversations.create_conversation(params)
        again = await client.conversations.create_conversation(params)
        assert first.id == again.id and first.id.startswith("a:")
        await client.conversations.send_to_conversation(first.id, Activity(type="message", text="hi Bob"))
        assert [a["text"] for a in connector.activities(first.id)] == ["hi Bob"]
        with pytest.raises(ErrorResponseException) as unknown:
            await client.conversations.send_to_conversation(
                "19:nope@thread.tacv2", Activity(type="message", text="x")
            )
        assert unknown.value.error.error.code == "ConversationNotFound"


def test_issued_token_verifies_with_pyjwt_against_the_jwks(connector: BotConnectorEmulator) -> None:
    token = connector.issue_token(APP_ID)
    metadata = requests.get(connector.openid_metadata_url, timeout=5).json()
    assert metadata["issuer"] == "https://api.botframework.com" and metadata["jwks_uri"] == connector.jwks_url
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=APP_ID, issuer="https://api.botframework.com"
    )
    assert claims["serviceurl"] == connector.service_url and claims["exp"] > claims["nbf"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert "msteams" in requests.get(connector.jwks_url, timeout=5).json()["keys"][0]["endorsements"]


def inbound(connector: BotConnectorEmulator) -> tuple[Activity, str]:
    team = connector.create_team("IR", ("General", "incidents"))
    alice = connector.add_member("Alice Adams", team_id=team.id)
    raw: dict[str, Any] = connector.message_activity(team.channels["incidents"], "hi", alice, app_id=APP_ID)
    return Activity().deserialize(raw), team.channels["incidents"]


async def test_botbuilder_validates_issuer_tokens_with_parameterized_settings() -> None:
    with BotConnectorEmulator(require_auth=True) as connector:
        activity, channel = inbound(connector)
        settings = types.SimpleNamespace(**connector.bot_auth_settings(APP_ID, "pw"))
        auth = ConfigurationBotFrameworkAuthentication(
            settings, credentials_factory=EmulatorCredentialsFactory(connector)
        )
        adapter = CloudAdapter(auth)
        await adapter.process_activity(f"Bearer {connector.issue_token(APP_ID)}", activity, EchoBot().on_turn)
        replies = [a for a in connector.activities(channel) if a["text"].startswith("echo")]
        assert [(a["text"], a["replyToId"]) for a in replies] == [("echo: hi", activity.id)]
        sent = connector.requests.last("POST /v3/conversations/*")
        assert (
            jwt.decode(sent.headers["Authorization"][7:], options={"verify_signature": False})["appid"]
            == APP_ID
        )
        for bad in (
            connector.issue_token("someone-else"),
            connector.issue_token(APP_ID, "http://evil.example/"),
        ):
            with pytest.raises(PermissionError):
                await auth.authenticate_request(activity, f"Bearer {bad}")
        with pytest.raises(jwt.ExpiredSignatureError):
            await auth.authenticate_request(
                activity, f"Bearer {connector.issue_token(APP_ID, expires_in=-600)}"
            )
        denied = requests.post(
            f"{connector.base_url}/v3/conversations/x/activities", json={"type": "message"}, timeout=5
        )
        assert denied.status_code == 401


async def test_botbuilder_validates_with_the_global_channel_validation_override(
    connector: BotConnectorEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", connector.openid_metadata_url)
    activity, _ = inbound(connector)
    settings = types.SimpleNamespace(APP_ID=APP_ID, APP_PASSWORD="pw", APP_TYPE="MultiTenant")
    auth = ConfigurationBotFrameworkAuthentication(settings)
    result = await auth.authenticate_request(activity, f"Bearer {connector.issue_token(APP_ID)}")
    assert result.claims_identity.claims["aud"] == APP_ID
    with pytest.raises(PermissionError):
        await auth.authenticate_request(activity, f"Bearer {connector.issue_token('someone-else')}")


def test_injected_rate_limit_uses_the_connector_error_shape(connector: BotConnectorEmulator) -> None:
    connector.inject("POST /v3/conversations/*/activities", status=429, retry_after=2)
    resp = requests.post(
        f"{connector.base_url}/v3/conversations/a:1/activities", json={"type": "message"}, timeout=5
    )
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    assert resp.json()["error"]["code"] == "TooManyRequests"
