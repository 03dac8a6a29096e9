"""Slack interactivity helpers: trigger_ids, modal stacks, App Home, response URLs and OAuth codes."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

from emulators.slack.serialize import view_json
from emulators.slack.state import (
    DEFAULT_BOT_SCOPES,
    Channel,
    OAuthCode,
    ResponseUrl,
    SlackState,
    Team,
    Trigger,
)


class SlackInteractivity:
    """Test helpers that stand in for a person clicking, typing slash commands or installing the app."""

    state: SlackState
    lock: threading.RLock
    team: Team
    clock: Callable[[], float]

    # Provided by the class this is mixed into (SlackEmulator): the server's root URL and its
    # channel lookup by id or name.
    channel: Callable[..., Channel]

    @property
    def base_url(self) -> str:
        raise NotImplementedError  # EmulatorServer's, which comes first in SlackEmulator's bases

    def issue_trigger_id(
        self, user_id: str, *, team_id: str | None = None, view_id: str | None = None
    ) -> str:
        """A fresh trigger_id, as Slack sends with a slash command or a button click."""
        with self.lock:
            trigger = Trigger(
                id=f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}",
                user_id=user_id,
                team_id=team_id or self.state.users[user_id].team_id,
                issued_at=self.clock(),
                view_id=view_id,
            )
            self.state.triggers[trigger.id] = trigger
            return trigger.id

    def views(self, user_id: str | None = None, *, open_only: bool = True) -> list[dict[str, Any]]:
        """Views (modals and Home tabs) as Slack JSON."""
        with self.lock:
            return [
                view_json(v)
                for v in self.state.views.values()
                if (user_id is None or v.user_id == user_id) and (v.open or not open_only)
            ]

    def modal_stack(self, user_id: str) -> list[dict[str, Any]]:
        """The user's open modal stack, root first."""
        with self.lock:
            return [view_json(self.state.views[v]) for v in self.state.modal_stacks.get(user_id, [])]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The user's published App Home view."""
        with self.lock:
            view = self.state.views.get(self.state.home_views.get(user_id, ""))
            return view_json(view) if view else None

    def close_modal(self, user_id: str) -> None:
        """Simulate the user closing (or submitting) the modal stack."""
        with self.lock:
            for view_id in self.state.modal_stacks.pop(user_id, []):
                self.state.views[view_id].open = False

    def response_url(
        self,
        channel: str,
        user_id: str | None = None,
        *,
        message_ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """A response_url into this emulator, as sent with a slash command or an interaction."""
        with self.lock:
            ch = self.channel(channel)
            token = secrets.token_urlsafe(12)
            self.state.response_urls[token] = ResponseUrl(
                token=token,
                team_id=ch.team_id,
                channel=ch.id,
                user_id=user_id or "",
                created=self.clock(),
                message_ts=message_ts,
                thread_ts=thread_ts,
            )
            return f"{self.base_url}/response_url/{token}"

    def responses(self, url: str | None = None) -> list[dict[str, Any]]:
        """Payloads posted to response URLs (all, or one URL's), oldest first."""
        with self.lock:
            token = url.rsplit("/", 1)[-1] if url else None
            return [p for r in self.state.response_urls.values() if token in (None, r.token) for p in r.posts]

    def oauth_code(
        self,
        *,
        team_id: str | None = None,
        user_id: str | None = None,
        scopes: Iterable[str] = DEFAULT_BOT_SCOPES,
        user_scopes: Iterable[str] = (),
        redirect_uri: str | None = None,
    ) -> str:
        """A one-time code for oauth.v2.access, as Slack redirects with after an install."""
        with self.lock:
            team = team_id or self.team.id
            installer = user_id or next(
                (u.id for u in self.state.users.values() if u.team_id == team and not u.is_bot),
                self.state.bot_users[team],
            )
            code = f"{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
            self.state.oauth_codes[code] = OAuthCode(
                code, team, installer, frozenset(scopes), frozenset(user_scopes), redirect_uri
            )
            return code
