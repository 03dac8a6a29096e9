"""Slack OAuth installations and OAuth state in our database, behind Bolt's async store interfaces.

slack_sdk's SQLAlchemy stores are synchronous; Bolt's AsyncApp needs async ones, so each call
runs in a worker thread. The tables (slack_bots, slack_installations, slack_oauth_states) are
created by migration 0005a. They hold workspace credentials, not incident data: tokens are sealed
at rest (storage/secret_box.py) and, on PostgreSQL, the app role cannot read them directly
(migration 0008_i13).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine

from storage.secret_box import SecretBox

log = logging.getLogger("revenant.slack.oauth")


def slack_oauth_metadata() -> MetaData:
    """The tables slack_sdk's stores use, for the migration that creates them."""
    metadata = MetaData()
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")
    return metadata


SEALED_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url")


class SealedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy store with tokens sealed at rest, and on PostgreSQL no direct reads.

    Tokens and webhook URLs are sealed with `box` before they are written and opened after they are
    read. On PostgreSQL the app role may only INSERT into slack_installations and slack_bots: it reads
    and deletes one workspace's rows through SECURITY DEFINER functions (migration 0008_i13), so a
    SQL injection in the app cannot list every workspace's tokens (and would get them sealed anyway).
    `on_change` is called after every write (save, delete): this process's cached Slack clients follow it.
    """

    def __init__(self, client_id: str, engine: Engine, box: SecretBox,
                 on_change: Callable[[], None] = lambda: None) -> None:
        super().__init__(client_id=client_id, engine=engine, logger=log)
        self.box = box
        self.on_change = on_change
        self._pg = engine.dialect.name == "postgresql"
        for table in (self.installations, self.bots):  # INSERT … RETURNING id would need SELECT on the table
            table.implicit_returning = False

    def _sealed(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self.box.seal(v) if k in SEALED_FIELDS else v for k, v in values.items()}

    def _opened(self, row: Any) -> dict[str, Any]:
        return {k: self.box.open(v) if k in SEALED_FIELDS else v for k, v in dict(row).items()}

    def save(self, installation: Installation) -> None:
        """Insert the installation (and its bot) with sealed tokens; the newest row wins on reads."""
        row = self._sealed(installation.to_dict())
        row.update(client_id=self.client_id, installed_at=normalize_datetime_for_db(row.get("installed_at")),
                   bot_token_expires_at=normalize_datetime_for_db(row.get("bot_token_expires_at")),
                   user_token_expires_at=normalize_datetime_for_db(row.get("user_token_expires_at")))
        try:
            with self.engine.begin() as conn:
                conn.execute(self.installations.insert(), row)
        finally:
            self.on_change()
        self.save_bot(installation.to_bot())

    def save_bot(self, bot: Bot) -> None:
        """Insert the bot with a sealed token."""
        row = self._sealed(bot.to_dict())
        row.update(client_id=self.client_id, installed_at=normalize_datetime_for_db(row.get("installed_at")),
                   bot_token_expires_at=normalize_datetime_for_db(row.get("bot_token_expires_at")))
        try:
            with self.engine.begin() as conn:
                conn.execute(self.bots.insert(), row)
        finally:
            self.on_change()

    def find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                 is_enterprise_install: bool | None = False) -> Bot | None:
        """The workspace's newest bot, tokens opened."""
        if is_enterprise_install or team_id is None:
            team_id = None
        c = self.bots.c
        query = (sa.text("SELECT * FROM revenant_slack_bot(:c, :e, :t)") if self._pg else self.bots.select().where(
            c.client_id == self.client_id, c.enterprise_id == enterprise_id, c.team_id == team_id,
            c.bot_token.is_not(None)).order_by(c.installed_at.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query, {"c": self.client_id, "e": enterprise_id, "t": team_id}).mappings().first()
        return self.build_bot_entity(self._opened(row)) if row else None

    def find_installation(self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
                          is_enterprise_install: bool | None = False) -> Installation | None:
        """The workspace's (or user's) newest installation, with the newest bot token, tokens opened."""
        if is_enterprise_install or team_id is None:
            team_id = None
        c = self.installations.c
        query = (sa.text("SELECT * FROM revenant_slack_installation(:c, :e, :t, :u)") if self._pg
                 else self.installations.select().where(
                     c.client_id == self.client_id, c.enterprise_id == enterprise_id, c.team_id == team_id,
                     *([c.user_id == user_id] if user_id is not None else [])
                 ).order_by(c.installed_at.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query, {"c": self.client_id, "e": enterprise_id, "t": team_id, "u": user_id}
                               ).mappings().first()
        if row is None:
            return None
        installation = self.build_installation_entity(self._opened(row))
        bot = self.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is not None and installation.bot_token != bot.bot_token:
            installation.bot_id, installation.bot_user_id = bot.bot_id, bot.bot_user_id
            installation.bot_token, installation.bot_scopes = bot.bot_token, bot.bot_scopes
            installation.bot_refresh_token = bot.bot_refresh_token
            installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget a workspace's bots (app uninstalled, tokens revoked)."""
        try:
            if not self._pg:
                return super().delete_bot(enterprise_id=enterprise_id, team_id=team_id)
            with self.engine.begin() as conn:
                conn.execute(sa.text("SELECT revenant_slack_forget(:c, :e, :t, NULL, true)"),
                             {"c": self.client_id, "e": enterprise_id, "t": team_id})
            return None
        finally:
            self.on_change()

    def delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                            user_id: str | None = None) -> None:
        """Forget a workspace's (or one user's) installations."""
        try:
            if not self._pg:
                return super().delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)
            with self.engine.begin() as conn:
                conn.execute(sa.text("SELECT revenant_slack_forget(:c, :e, :t, :u, false)"),
                             {"c": self.client_id, "e": enterprise_id, "t": team_id, "u": user_id})
            return None
        finally:
            self.on_change()


class SqlInstallationStore(AsyncInstallationStore):
    """Installations keyed by client id, enterprise and team; the latest bot token per workspace."""

    def __init__(self, client_id: str, engine: Engine, box: SecretBox,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.sync = SealedInstallationStore(client_id, engine, box, on_change)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.sync.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.sync.save_bot, bot)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        return await asyncio.to_thread(self.sync.find_bot, enterprise_id=enterprise_id, team_id=team_id,
                                       is_enterprise_install=is_enterprise_install)

    async def async_find_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                      user_id: str | None = None,
                                      is_enterprise_install: bool | None = False) -> Installation | None:
        return await asyncio.to_thread(self.sync.find_installation, enterprise_id=enterprise_id, team_id=team_id,
                                       user_id=user_id, is_enterprise_install=is_enterprise_install)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.sync.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        await asyncio.to_thread(self.sync.delete_installation, enterprise_id=enterprise_id, team_id=team_id,
                                user_id=user_id)

    def bot_token(self, team_id: str, enterprise_id: str | None = None) -> str | None:
        """The bot token for a workspace (outbound calls from the worker)."""
        bot = self.sync.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        return bot.bot_token if bot else None


class SqlOAuthStateStore(AsyncOAuthStateStore):
    """One-time OAuth `state` values with an expiry, shared by every web process."""

    def __init__(self, engine: Engine, expiration_seconds: int = 600) -> None:
        self.sync = SQLAlchemyOAuthStateStore(expiration_seconds=expiration_seconds, engine=engine, logger=log)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.sync.issue)

    async def async_consume(self, state: str) -> bool:
        return await asyncio.to_thread(self.sync.consume, state)
