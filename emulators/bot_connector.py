"""BotConnectorEmulator: the Bot Framework v3 REST API (Teams flavour) plus a local token issuer.

Pointing botbuilder 4.17 at the local issuer (inbound JWT validation). botframework-connector
fetches OpenID metadata with a blocking `requests.get`, so the emulator must run in its own
thread (`with BotConnectorEmulator() as connector:`), never via start_async() in the bot's loop.

* Parameterized (no global state, recommended): give `ConfigurationBotFrameworkAuthentication`
  a configuration object carrying `connector.bot_auth_settings(app_id, password)`. Its keys
  `TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL` and `TO_BOT_FROM_CHANNEL_TOKEN_ISSUER` switch
  botbuilder to `_ParameterizedBotFrameworkAuthentication`, which validates tokens against this
  issuer (signature, issuer, aud = app id, serviceurl = activity.serviceUrl, endorsement of
  the activity's channelId).
* Global: with the default public-cloud configuration, set the class attribute
  `botframework.connector.auth.ChannelValidation.open_id_metadata_endpoint` to
  `connector.openid_metadata_url` (and restore it afterwards, e.g. with monkeypatch).

Either way, send requests with `Authorization: Bearer <connector.issue_token(app_id)>` and an
activity whose serviceUrl is `connector.service_url`. The metadata URL carries a per-instance
query string because botframework-connector caches keys per URL for a day.

Outbound calls (bot → connector) with a non-empty app id go through MSAL, which only accepts
https authorities; tests therefore pass a `credentials_factory` whose credentials return
`connector.issue_bot_token(app_id)` (or POST to `connector.token_url()`), or run with an empty
app id. With `require_auth=True` the emulator rejects /v3 calls without such a token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from aiohttp import web

from emulators.bot_connector_render import render
from emulators.bot_connector_state import THREAD_MARK, ConnectorState, Conversation, Member, Team
from emulators.bot_token_issuer import CHANNEL_AUDIENCE, CHANNEL_ISSUER, TokenIssuer
from emulators.server import EmulatorServer, body_of, json_response
from emulators.teams_markdown import mention_problem

MAX_ACTIVITY_BYTES = 28 * 1024  # Teams refuses bigger messages, card JSON included (HTTP 413 MessageSizeTooBig)


def _error(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


class BotConnectorEmulator(EmulatorServer):
    """Bot Connector emulator: `ConnectorClient(credentials, base_url=connector.service_url)`."""

    name = "bot-connector"

    def __init__(
        self,
        *,
        tenant_id: str = "72f988bf-0000-0000-0000-emulatortenant",
        bot_name: str = "Revenant",
        strict: bool = False,
        require_auth: bool = False,
        max_activity_bytes: int = MAX_ACTIVITY_BYTES,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.state = ConnectorState(self.clock, tenant_id)
        self.issuer = TokenIssuer()
        self.bot_name = bot_name
        self.strict = strict
        self.require_auth = require_auth
        self.max_activity_bytes = max_activity_bytes
        self._instance = secrets.token_hex(6)

    # ----- URLs -----
    @property
    def service_url(self) -> str:
        """The serviceUrl to put in activities (ends with /, like Teams' regional URLs)."""
        return self.base_url + "/"

    @property
    def openid_metadata_url(self) -> str:
        """OpenID metadata URL for botframework-connector (unique per emulator instance)."""
        return f"{self.base_url}/v1/.well-known/openidconfiguration?instance={self._instance}"

    @property
    def jwks_url(self) -> str:
        """The JWKS URL named by the metadata."""
        return f"{self.base_url}/v1/.well-known/keys"

    def token_url(self, tenant: str = "botframework.com") -> str:
        """AAD-style client-credentials token endpoint."""
        return f"{self.base_url}/{tenant}/oauth2/v2.0/token"

    # ----- tokens -----
    def issue_token(
        self,
        app_id: str,
        service_url: str | None = None,
        *,
        expires_in: int = 3600,
        extra_claims: dict[str, Any] | None = None,
    ) -> str:
        """A channel → bot JWT (RS256; iss https://api.botframework.com, aud app id, serviceurl, nbf/exp)."""
        url = self.service_url if service_url is None else service_url
        return self.issuer.channel_token(app_id, url, expires_in=expires_in, extra_claims=extra_claims)

    def issue_bot_token(self, app_id: str) -> str:
        """A bot → connector access token (aud https://api.botframework.com), as AAD would issue."""
        return self.issuer.bot_token(app_id)

    def bot_auth_settings(
        self, app_id: str, app_password: str = "", tenant_id: str | None = None
    ) -> dict[str, str]:
        """Configuration attributes for ConfigurationBotFrameworkAuthentication that trust this issuer."""
        settings = {
            "APP_ID": app_id,
            "APP_PASSWORD": app_password,
            "APP_TYPE": "SingleTenant" if tenant_id else "MultiTenant",
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": self.openid_metadata_url,
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": CHANNEL_ISSUER,
            "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": self.openid_metadata_url,
            "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": CHANNEL_AUDIENCE,
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": f"{self.base_url}/{tenant_id or 'botframework.com'}",
            "VALIDATE_AUTHORITY": "false",
        }
        if tenant_id:
            settings["APP_TENANTID"] = tenant_id
        return settings

    # ----- wiring -----
    def setup_routes(self, app: web.Application) -> None:
        """Token issuer routes plus a /v3 router that accepts percent-encoded and doubled slashes."""
        app.router.add_get("/.well-known/openid-configuration", self._openid)
        app.router.add_get("/v1/.well-known/openidconfiguration", self._openid)
        app.router.add_get("/v1/.well-known/keys", self._keys)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_route("*", "/{tail:.*}", self._v3)

    def operation_name(self, request: web.Request) -> str:
        """ "METHOD /v3/..." with the path decoded."""
        return f"{request.method} /" + "/".join(self._segments(request))

    def fault_body(self, status: int, request: web.Request) -> Any:
        """The connector's ErrorResponse body."""
        codes = {429: "TooManyRequests", 500: "ServiceError", 502: "BadGateway", 503: "ServiceUnavailable"}
        return {"error": {"code": codes.get(status, "ServiceError"), "message": "Injected failure"}}

    @staticmethod
    def _segments(request: web.Request) -> list[str]:
        return [unquote(s) for s in request.rel_url.raw_path.split("/") if s]

    async def _openid(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.issuer.openid_configuration(self.base_url))

    async def _keys(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.issuer.jwks())

    async def _token(self, request: web.Request) -> web.StreamResponse:
        body = body_of(request) if isinstance(body_of(request), dict) else {}
        if isinstance(body_of(request), str):
            body = {k: v[0] for k, v in parse_qs(body_of(request)).items()}
        if body.get("grant_type") != "client_credentials" or not body.get("client_id"):
            error = {
                "error": "invalid_request",
                "error_description": "AADSTS900144: The request body must contain client_id.",
            }
            return json_response(error, status=400)
        token = self.issuer.bot_token(str(body["client_id"]), request.match_info["tenant"])
        return json_response(
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    def _authorized(self, request: web.Request) -> bool:
        if not self.require_auth:
            return True
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        try:
            self.issuer.verify(header[7:], audience=CHANNEL_AUDIENCE)
        except jwt.InvalidTokenError:
            return False
        return True

    async def _v3(self, request: web.Request) -> web.StreamResponse:
        parts = self._segments(request)
        if not parts or parts[0] != "v3":
            return _error(404, "NotFound", "Resource not found")
        if not self._authorized(request):
            return json_response({"message": "Authorization has been denied for this request."}, status=401)
        body = body_of(request)
        if request.method in ("POST", "PUT") and len(await request.read()) > self.max_activity_bytes:
            return _error(413, "MessageSizeTooBig", "Message size too large.")
        with self.lock:
            return self._route(request.method, parts[1:], body if isinstance(body, dict) else None)

    def _route(self, method: str, parts: list[str], body: dict[str, Any] | None) -> web.Response:
        sent = body.get("activity") if body is not None and parts == ["conversations"] else body
        problem = mention_problem(sent, set(self.state.members)) if isinstance(sent, dict) else None
        if problem is not None and method in ("POST", "PUT"):
            return _error(400, "BadArgument", f"Invalid mention: {problem}")
        if parts[:1] == ["teams"] and len(parts) >= 2:
            return self._team(parts[1], parts[2:])
        if parts[:1] != ["conversations"]:
            return _error(404, "NotFound", "Resource not found")
        if len(parts) == 1:
            return self._create_conversation(body) if method == "POST" else self._list_conversations()
        conversation = self.state.conversation(parts[1], create=not self.strict)
        if conversation is None:
            return _error(404, "ConversationNotFound", "Conversation not found.")
        rest = parts[2:]
        if rest == ["activities"] and method == "POST":
            return self._send(conversation, body, reply_to=None)
        if len(rest) == 2 and rest[0] == "activities":
            if method == "POST":
                return self._send(conversation, body, reply_to=rest[1])
            if method == "PUT":
                return self._update(conversation, rest[1], body)
            if method == "DELETE":
                return self._delete(conversation, rest[1])
        if rest == ["members"] or (len(rest) == 3 and rest[0] == "activities" and rest[2] == "members"):
            return json_response([m.to_json() for m in self.state.members_of(conversation)])
        if rest == ["pagedmembers"]:
            members = [m.to_json() for m in self.state.members_of(conversation)]
            return json_response({"continuationToken": None, "members": members})
        if len(rest) == 2 and rest[0] == "members":
            found = next((m for m in self.state.members_of(conversation) if m.answers_to(rest[1])), None)
            if found is None:
                return _error(
                    404, "MemberNotFoundInConversation", "The member was not found in the conversation."
                )
            return json_response(found.to_json())
        return _error(405 if rest else 404, "BadArgument", "Unsupported operation")

    # ----- operations -----
    def _send(
        self, conversation: Conversation, body: dict[str, Any] | None, reply_to: str | None
    ) -> web.Response:
        if body is None:
            return _error(400, "BadArgument", "Activity is required.")
        if THREAD_MARK not in conversation.id and conversation.kind == "channel":
            if reply_to:  # replying to a channel post lands in that post's thread
                thread = self.state.conversation(f"{conversation.id}{THREAD_MARK}{reply_to}", create=True)
                assert thread is not None
                stored = self.state.record(thread, body, reply_to, self.bot_name)
            else:  # a new post in the channel starts a thread
                stored = self.state.new_thread(conversation.id, body, self.bot_name)
            return json_response({"id": stored["id"]}, status=201)
        stored = self.state.record(conversation, body, reply_to, self.bot_name)
        return json_response({"id": stored["id"]}, status=201)

    def _update(
        self, conversation: Conversation, activity_id: str, body: dict[str, Any] | None
    ) -> web.Response:
        found = self.state.find_activity(conversation, activity_id)
        if found is None or body is None:
            return _error(404, "ActivityNotFound", "The activity was not found.")
        found.update({k: v for k, v in body.items() if k not in ("id", "conversation", "timestamp")})
        found["edited"] = self.state.timestamp()
        return json_response({"id": activity_id})

    def _delete(self, conversation: Conversation, activity_id: str) -> web.Response:
        found = self.state.find_activity(conversation, activity_id)
        if found is None:
            return _error(404, "ActivityNotFound", "The activity was not found.")
        found["deleted"] = True
        return web.Response(status=200)

    def _create_conversation(self, body: dict[str, Any] | None) -> web.Response:
        body = body or {}
        channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
        activity = body.get("activity")
        if channel:
            if self.strict and channel not in self.state.conversations:
                return _error(404, "ConversationNotFound", "Conversation not found.")
            if not isinstance(activity, dict):
                return _error(
                    400, "BadArgument", "Activity is required to start a conversation in a channel."
                )
            self.state.conversation(channel, create=True)
            stored = self.state.new_thread(channel, activity, self.bot_name)
            cid = stored["conversation"]["id"]
            return json_response({"id": cid, "activityId": stored["id"]}, status=201)
        members = [str(m["id"]) for m in body.get("members") or [] if isinstance(m, dict) and m.get("id")]
        if body.get("isGroup") or len(members) != 1:
            return _error(400, "BadArgument", "Incorrect conversation creation parameters")
        conversation = self.state.personal(members[0])
        result: dict[str, Any] = {"id": conversation.id}
        if isinstance(activity, dict):
            result["activityId"] = self.state.record(conversation, activity, None, self.bot_name)["id"]
        return json_response(result, status=201)

    def _list_conversations(self) -> web.Response:
        items = [
            {"id": c.id, "members": [m.to_json() for m in self.state.members_of(c)]}
            for c in self.state.conversations.values()
        ]
        return json_response({"conversations": items, "continuationToken": None})

    def _team(self, team_id: str, rest: list[str]) -> web.Response:
        team = self.state.teams.get(team_id)
        if team is None:
            return _error(404, "NotFound", "Team not found")
        if rest == ["conversations"]:
            channels = [
                {"id": cid, "name": None if name == "General" else name}
                for name, cid in team.channels.items()
            ]
            return json_response({"conversations": channels})
        if not rest:
            return json_response({"id": team.id, "name": team.name, "aadGroupId": team.aad_group_id})
        return _error(404, "NotFound", "Resource not found")

    # ----- helpers for tests and the demo -----
    def create_team(self, name: str = "Incident Response", channels: tuple[str, ...] = ("General",)) -> Team:
        """A team with channels; `team.channels` maps display name → channel id."""
        with self.lock:
            return self.state.add_team(name, list(channels))

    def add_member(self, name: str, *, email: str | None = None, team_id: str | None = None) -> Member:
        """A user of the tenant, optionally added to a team."""
        with self.lock:
            member = self.state.add_member(name, email)
            if team_id:
                self.state.teams[team_id].members.append(member.id)
            return member

    def delete_channel(self, channel_id: str) -> None:
        """Delete a channel as a team owner would: it and its threads answer 404 ConversationNotFound from now on."""
        with self.lock:
            self.state.deleted_channels.add(channel_id)

    def personal_conversation(self, member_id: str) -> str:
        """The 1:1 conversation id between the bot and a member."""
        with self.lock:
            return self.state.personal(member_id).id

    def activities(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        """Activities recorded in a conversation (a channel id includes all its threads), or everywhere."""
        with self.lock:
            convs = (
                self.state.related(conversation_id)
                if conversation_id
                else list(self.state.conversations.values())
            )
            return [dict(a) for c in convs for a in c.activities]

    def threads(self, channel_id: str) -> list[str]:
        """Thread conversation ids of a channel, oldest first."""
        with self.lock:
            return [c.id for c in self.state.related(channel_id) if THREAD_MARK in c.id]

    def render_conversation(self, conversation_id: str) -> str:
        """The conversation (or a channel with its threads) as text."""
        with self.lock:
            return render(self.state, conversation_id)

    def message_activity(
        self,
        conversation_id: str,
        text: str | None,
        sender: Member,
        *,
        app_id: str = "",
        value: Any = None,
        reply_to_id: str | None = None,
        record: bool = True,
    ) -> dict[str, Any]:
        """An inbound Teams message activity to POST to the bot (recorded in the conversation by default)."""
        with self.lock:
            conversation = self.state.conversation(conversation_id, create=True)
            assert conversation is not None
            team = self.state.teams.get(conversation.team_id or "")
            channel_data: dict[str, Any] = {"tenant": {"id": self.state.tenant_id}}
            if team is not None:
                channel_data.update(
                    {
                        "teamsChannelId": conversation.channel_id,
                        "teamsTeamId": team.id,
                        "channel": {"id": conversation.channel_id},
                        "team": {"id": team.id, "name": team.name, "aadGroupId": team.aad_group_id},
                    }
                )
            activity: dict[str, Any] = {
                "type": "message",
                "serviceUrl": self.service_url,
                "channelId": "msteams",
                "from": {"id": sender.id, "name": sender.name, "aadObjectId": sender.aad_object_id},
                "recipient": {"id": f"28:{app_id}", "name": self.bot_name},
                "textFormat": "plain",
                "locale": "en-US",
                "channelData": channel_data,
            }
            if text is not None:
                activity["text"] = text
            if value is not None:
                activity["value"] = value
            if reply_to_id:
                activity["replyToId"] = reply_to_id
            stored = self.state.record(conversation, activity, reply_to_id, self.bot_name)
            if not record:
                conversation.activities.remove(stored)
            stored["localTimestamp"] = stored["timestamp"]
            return stored
