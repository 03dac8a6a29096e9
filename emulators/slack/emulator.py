"""SlackEmulator: the Slack Web API over HTTP on 127.0.0.1, stateful, with test helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from emulators.server import EmulatorServer, body_of, json_response
from emulators.slack import ops, renders
from emulators.slack.api import Call, Registry
from emulators.slack.interactivity import SlackInteractivity
from emulators.slack.methods_chat import chat
from emulators.slack.methods_conversations import conversations
from emulators.slack.methods_files import file_json, files, receive_upload
from emulators.slack.methods_items import items
from emulators.slack.methods_users import users
from emulators.slack.methods_views import views
from emulators.slack.render import Renderer
from emulators.slack.response_urls import handle_response_url
from emulators.slack.serialize import message_json
from emulators.slack.socket_mode import SocketLink, SocketModeEmulation
from emulators.slack.state import (
    DEFAULT_BOT_SCOPES,
    Channel,
    SlackError,
    SlackState,
    Team,
    Token,
    TokenKind,
    User,
)


def _registry() -> Registry:
    registry = Registry()
    for family in (users, conversations, chat, items, views, files):
        registry.include(family)
    return registry


class SlackEmulator(EmulatorServer, SlackInteractivity, SocketModeEmulation):
    """Stateful Slack Web API emulator: `WebClient(token=slack.bot_token, base_url=slack.api_url)`."""

    name = "slack"

    def __init__(
        self,
        *,
        team_name: str = "Emulated Workspace",
        team_domain: str = "emulated",
        bot_name: str = "revenant",
        bot_token: str = "xoxb-emulator-bot-token",
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.state = SlackState(self.clock)
        self.registry = _registry()
        self.bot_name = bot_name
        self.team = self.create_team(team_name, team_domain, bot_token=bot_token)
        self.bot_token = bot_token
        self.bot_user_id = self.state.bot_users[self.team.id]
        self.bot_id = self.state.users[self.bot_user_id].bot_id or ""
        self.socket = SocketLink(app_id=self.state.app_id)

    # ----- server wiring -----
    def setup_routes(self, app: web.Application) -> None:
        """Web API methods at /api/{method} (and /{method}), response URLs at /response_url/{token}."""
        app.router.add_post("/response_url/{token}", self._response_url)
        app.router.add_get("/link/", self.socket.serve)  # Socket Mode (emulators/slack/socket_mode.py)
        app.router.add_post("/upload/v1/{ticket}", self._upload)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_route("*", "/{method}", self._api)

    def operation_name(self, request: web.Request) -> str:
        """The Slack method name, e.g. chat.postMessage."""
        return request.path.rsplit("/", 1)[-1] if "." in request.path else ""

    def fault_body(self, status: int, request: web.Request) -> Any:
        """Slack's body for rate limits and server errors."""
        if status == 429:
            return {"ok": False, "error": "ratelimited"}
        return {"ok": False, "error": "service_unavailable" if status == 503 else "internal_error"}

    def route_not_found(self, request: web.Request) -> web.StreamResponse:
        """Slack answers unknown paths with a 404 page."""
        return web.Response(status=404, text="Not Found")

    async def _api(self, request: web.Request) -> web.StreamResponse:
        args: dict[str, Any] = dict(request.query)
        body = body_of(request)
        if isinstance(body, dict):
            args.update(body)
        elif isinstance(body, str) and request.content_type == "application/json":
            return json_response({"ok": False, "error": "invalid_json"})
        with self.lock:
            result = self.dispatch(
                request.match_info["method"], args, request.headers.get("Authorization", "")
            )
        return json_response(result)

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        """An upload URL from files.getUploadURLExternal: raw bytes, or multipart with the file in any part."""
        data = await request.read()
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            part = next((v for v in form.values() if hasattr(v, "file")), None)
            data = part.file.read() if part is not None else b""
        with self.lock:
            status, text = receive_upload(self.state, request.match_info["ticket"], data)
        return web.Response(status=status, text=text)

    def dispatch(self, method: str, args: dict[str, Any], auth_header: str = "") -> dict[str, Any]:
        """Run one Web API method and return Slack's JSON answer."""
        self.state.public_url = self.base_url
        if method == "apps.connections.open":  # the one method an app-level token calls
            return self.socket.open_url(self.base_url, auth_header or f"Bearer {args.get('token', '')}")
        entry = self.registry.methods.get(method)
        if entry is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        handler, needs_auth = entry
        token: Token | None = None
        if needs_auth:
            raw = (
                auth_header[7:].strip()
                if auth_header.lower().startswith("bearer ")
                else str(args.get("token", ""))
            )
            if not raw:
                return {"ok": False, "error": "not_authed"}
            token = self.state.tokens.get(raw)
            if token is None:
                return {"ok": False, "error": "invalid_auth"}
            if token.revoked:
                return {"ok": False, "error": "token_revoked"}
        args.pop("token", None)
        try:
            result = handler(Call(self.state, token, args, auth_header))
        except SlackError as exc:
            return {"ok": False, "error": exc.error, **exc.extra}
        if method in renders.RENDERING_METHODS:
            channel = str(result.get("channel") or args.get("channel") or args.get("channel_id") or "") or None
            self.state.renders += renders.record(method, channel, renders.call_tokens(method, args))
        return {"ok": True, **result}

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            body = body_of(request)
            status, payload = handle_response_url(self.state, request.match_info["token"], body)
            target = self.state.response_urls.get(request.match_info["token"])
            if status == 200 and isinstance(body, dict) and target is not None:
                self.state.renders += renders.record("response_url", target.channel,
                                                     renders.call_tokens("response_url", body))
        return json_response(payload, status=status)

    # ----- properties -----
    @property
    def api_url(self) -> str:
        """Base URL for slack_sdk clients and SLACK_API_URL (ends with /api/)."""
        return self.base_url + "/api/"

    @property
    def team_id(self) -> str:
        """Id of the default workspace."""
        return self.team.id

    @property
    def app_id(self) -> str:
        """The emulated app's id."""
        return self.state.app_id

    @property
    def client_id(self) -> str:
        """OAuth client id accepted by oauth.v2.access."""
        return self.state.client_id

    @property
    def client_secret(self) -> str:
        """OAuth client secret accepted by oauth.v2.access."""
        return self.state.client_secret

    # ----- helpers: workspace setup -----
    def create_team(
        self,
        name: str,
        domain: str | None = None,
        *,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        bot_token: str | None = None,
    ) -> Team:
        """A workspace with the app's bot user installed (and a bot token when given)."""
        with self.lock:
            state = self.state
            team = Team(
                state.new_id("T"),
                name,
                domain or name.lower().replace(" ", "-"),
                enterprise_id,
                enterprise_name,
            )
            state.teams[team.id] = team
            bot = User(
                id=state.new_id("U"),
                team_id=team.id,
                name=self.bot_name,
                real_name=self.bot_name,
                is_bot=True,
                bot_id=state.new_id("B"),
                app_id=state.app_id,
                updated=state.now(),
            )
            state.users[bot.id] = bot
            state.bot_users[team.id] = bot.id
            ops.create_channel(state, team.id, "general", bot.id, is_general=True)
            if bot_token:
                self.add_token(bot_token, team_id=team.id)
            return team

    def create_user(
        self,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        *,
        team_id: str | None = None,
        is_admin: bool = False,
        title: str = "",
        display_name: str = "",
        tz: str = "Etc/UTC",
    ) -> User:
        """A person in the workspace; they join #general like new members do."""
        with self.lock:
            team = team_id or self.team.id
            user = User(
                id=self.state.new_id("U"),
                team_id=team,
                name=name,
                real_name=real_name or name.title(),
                email=email,
                is_admin=is_admin,
                title=title,
                display_name=display_name,
                tz=tz,
                updated=self.state.now(),
            )
            self.state.users[user.id] = user
            general = next(c for c in self.state.team_channels(team) if c.is_general)
            general.members.append(user.id)
            return user

    def add_token(
        self,
        token: str,
        *,
        user_id: str | None = None,
        team_id: str | None = None,
        scopes: Iterable[str] | None = None,
    ) -> Token:
        """Register an access token (a bot token unless it acts as a person)."""
        with self.lock:
            team = team_id or (self.state.users[user_id].team_id if user_id else self.team.id)
            acting = user_id or self.state.bot_users[team]
            user = self.state.users[acting]
            kind: TokenKind = "bot" if user.is_bot else "user"
            entry = Token(
                value=token,
                team_id=team,
                user_id=acting,
                kind=kind,
                scopes=frozenset(scopes) if scopes is not None else DEFAULT_BOT_SCOPES,
                bot_id=user.bot_id,
                app_id=user.app_id,
            )
            self.state.tokens[token] = entry
            return entry

    def revoke_token(self, token: str) -> None:
        """Make a token answer token_revoked."""
        with self.lock:
            self.state.tokens[token].revoked = True

    def create_channel(
        self,
        name: str,
        *,
        private: bool = False,
        creator: str | None = None,
        members: Iterable[str] = (),
        join_bot: bool = False,
        topic: str = "",
        purpose: str = "",
        team_id: str | None = None,
    ) -> Channel:
        """A channel made by `creator` (default: the first member, else the bot) with extra members."""
        with self.lock:
            team = team_id or self.team.id
            member_ids = list(members)
            owner = creator or (member_ids[0] if member_ids else self.state.bot_users[team])
            channel = ops.create_channel(self.state, team, name, owner, is_private=private)
            for user_id in [*member_ids, *([self.state.bot_users[team]] if join_bot else [])]:
                ops.add_member(self.state, channel, user_id, inviter=owner if user_id != owner else None)
            channel.topic.value, channel.topic.creator = topic, owner
            channel.purpose.value, channel.purpose.creator = purpose, owner
            return channel

    def channel(self, ref: str, *, team_id: str | None = None) -> Channel:
        """A channel by id or name; KeyError when unknown."""
        with self.lock:
            found = self.state.channels.get(ref) or self.state.channel_by_name(team_id or self.team.id, ref)
            if found is None:
                raise KeyError(ref)
            return found

    def channel_by_name(self, name: str, *, team_id: str | None = None) -> Channel | None:
        """A channel by name (with or without #), or None."""
        with self.lock:
            return self.state.channel_by_name(team_id or self.team.id, name)

    # ----- helpers: what happened -----
    def rendered(self, *kinds: str) -> list[renders.Rendered]:
        """Every live token Slack would have rendered so far (broadcasts, mentions, channel links, links)."""
        with self.lock:
            return [r for r in self.state.renders if not kinds or r.kind in kinds]

    def messages(self, channel: str, *, include_system: bool = False) -> list[dict[str, Any]]:
        """Every message and thread reply in the channel as Slack JSON, oldest first."""
        with self.lock:
            ch = self.channel(channel)
            return [
                message_json(self.state, ch, m)
                for m in ch.messages
                if include_system or m.subtype not in ops.SYSTEM_SUBTYPES
            ]

    def files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Completed uploads (shared in `channel`, if given) as files.info shows them, with their bytes."""
        with self.lock:
            cid = self.channel(channel).id if channel else None
            return [{**file_json(self.state, f, self.base_url), "data": f.data}
                    for f in self.state.files.values() if f.completed and (cid is None or cid in f.shares)]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """A thread's parent and replies as Slack JSON."""
        with self.lock:
            ch = self.channel(channel)
            root = ch.find(ts)
            if root is None:
                raise KeyError(ts)
            return [message_json(self.state, ch, m) for m in [root, *ch.replies(root.thread_ts or root.ts)]]

    def ephemerals(self, channel: str | None = None, user_id: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages shown so far (channel, user, ts, text, blocks, thread_ts)."""
        with self.lock:
            cid = self.channel(channel).id if channel else None
            return [
                vars(e).copy()
                for e in self.state.ephemerals
                if (cid is None or e.channel == cid) and (user_id is None or e.user == user_id)
            ]

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call to a Web API method, oldest first."""
        out = []
        for record in self.requests.filter(method):
            args = dict(record.query)
            if isinstance(record.body, dict):
                args.update(record.body)
            out.append(args)
        return out

    def post_as(
        self, user_id: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """Simulate a person posting (no Events API delivery); returns the message JSON."""
        with self.lock:
            ch = self.channel(channel)
            message = ops.post_message(self.state, ch, user_id, text, thread_ts=thread_ts)
            return message_json(self.state, ch, message)

    def react_as(self, user_id: str, channel: str, ts: str, name: str) -> None:
        """Simulate a person adding a reaction."""
        with self.lock:
            message = ops.find_message(self.channel(channel), ts)
            users_ = message.reactions.setdefault(name, [])
            if user_id not in users_:
                users_.append(user_id)

    # ----- rendering -----
    def render_channel(
        self, channel: str, *, include_ephemeral: bool = False, time_format: str = "%H:%M"
    ) -> str:
        """The channel as a person reads it: messages, threads indented, pins, reactions, Block Kit as text."""
        with self.lock:
            renderer = Renderer(self.state, time_format=time_format)
            return renderer.channel(self.channel(channel), include_ephemeral=include_ephemeral)

    def render_view(self, view_id: str) -> str:
        """A modal or Home tab as text."""
        with self.lock:
            return Renderer(self.state).view(self.state.views[view_id])
