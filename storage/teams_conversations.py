"""Teams conversation references and declare origins, always scoped by org (RLS is the second wall)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from storage.engine import scope_to_org
from storage.records import utc
from storage.teams_tables import TeamsConversationRow, TeamsDeclareOriginRow

THREAD_MARK = ";messageid="  # a thread's conversation id is its channel's plus this and the root message id
CONVERSATIONS = TeamsConversationRow.__table__  # type: ignore[attr-defined]
ORIGINS = TeamsDeclareOriginRow.__table__  # type: ignore[attr-defined]


class SqlTeamsConversations:
    """The handlers' ConversationStore over SQL (handlers/teams/references.py describes it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def remember(self, org_id: str, reference: dict[str, Any], *, kind: str, tenant_id: str | None,
                 team_id: str | None, channel_id: str | None, incident_id: str | None = None) -> None:
        """Insert or update the reference of one conversation; unchanged rows are not rewritten."""
        conversation_id = str((reference.get("conversation") or {}).get("id") or "")
        service_url = str(reference.get("serviceUrl") or "")
        if not conversation_id or not service_url:
            return
        row = {"kind": kind, "tenant_id": tenant_id, "team_id": team_id, "channel_id": channel_id,
               "service_url": service_url, "reference": reference}
        try:
            self._upsert(org_id, conversation_id, row, incident_id)
        except IntegrityError:  # two first activities of a conversation at once: the other one inserted it
            self._upsert(org_id, conversation_id, row, incident_id)

    def _upsert(self, org_id: str, conversation_id: str, row: dict[str, Any], incident_id: str | None) -> None:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            found = conn.execute(sa.select(CONVERSATIONS).where(
                CONVERSATIONS.c.org_id == org_id, CONVERSATIONS.c.conversation_id == conversation_id)).first()
            now = datetime.now(UTC)
            if found is None:
                conn.execute(CONVERSATIONS.insert().values(org_id=org_id, conversation_id=conversation_id,
                                                           incident_id=incident_id, updated_at=now, **row))
                return
            current = {k: getattr(found, k) for k in row}
            if current == row and (incident_id is None or found.incident_id == incident_id):
                return
            values: dict[str, Any] = {**row, "updated_at": now}
            if incident_id is not None:
                values["incident_id"] = incident_id
            conn.execute(CONVERSATIONS.update().where(CONVERSATIONS.c.org_id == org_id,
                                                      CONVERSATIONS.c.conversation_id == conversation_id)
                         .values(**values))

    def reference(self, org_id: str, conversation_id: str) -> dict[str, Any] | None:
        """The stored reference of a conversation, or None."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return _reference(conn.execute(sa.select(CONVERSATIONS.c.reference).where(
                CONVERSATIONS.c.org_id == org_id, CONVERSATIONS.c.conversation_id == conversation_id)).first())

    def route_to_channel(self, org_id: str, channel_id: str) -> dict[str, Any] | None:
        """A reference whose service URL reaches `channel_id`: the channel's, its team's, else the org's latest."""
        order = CONVERSATIONS.c.updated_at.desc()
        base = sa.select(CONVERSATIONS.c.reference).where(CONVERSATIONS.c.org_id == org_id)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            for cond in (CONVERSATIONS.c.conversation_id == channel_id, CONVERSATIONS.c.channel_id == channel_id,
                         CONVERSATIONS.c.team_id == channel_id, sa.true()):
                found = _reference(conn.execute(base.where(cond).order_by(order).limit(1)).first())
                if found is not None:
                    return found
        return None

    def tenant(self, org_id: str, conversation_id: str) -> str | None:
        """The tenant stored with a conversation, else with its channel, else the org's only tenant (a thread the
        bot opened has none stored: the connector's answer names none); None when that leaves a doubt."""
        channel = conversation_id.split(THREAD_MARK, 1)[0]
        known = CONVERSATIONS.c.tenant_id.is_not(None)
        exact = sa.case((CONVERSATIONS.c.conversation_id == conversation_id, 0), else_=1)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            found = conn.execute(sa.select(CONVERSATIONS.c.tenant_id).where(
                CONVERSATIONS.c.org_id == org_id, CONVERSATIONS.c.conversation_id.in_({conversation_id, channel}),
                known).order_by(exact).limit(1)).scalar()
            if found is None:
                tenants = conn.execute(sa.select(CONVERSATIONS.c.tenant_id).where(
                    CONVERSATIONS.c.org_id == org_id, known).distinct().limit(2)).scalars().all()
                found = tenants[0] if len(tenants) == 1 else None
        return str(found) if found else None

    def incident_thread(self, org_id: str, incident_id: str) -> dict[str, Any] | None:
        """The reference of the thread opened as this incident's room, if the bot opened one."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            return _reference(conn.execute(sa.select(CONVERSATIONS.c.reference).where(
                CONVERSATIONS.c.org_id == org_id, CONVERSATIONS.c.incident_id == incident_id)
                .order_by(CONVERSATIONS.c.updated_at).limit(1)).first())

    def note_declare_origin(self, org_id: str, user_id: str, channel_id: str) -> None:
        """Remember the channel `user_id` is declaring from (one row per person, the latest wins)."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            _delete_origin(conn, org_id, user_id)
            conn.execute(ORIGINS.insert().values(org_id=org_id, user_id=user_id, channel_id=channel_id,
                                                 declared_at=datetime.now(UTC)))

    def declare_origin(self, org_id: str, user_id: str) -> tuple[str, datetime] | None:
        """(channel id, when) of the person's latest Teams declaration."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            row = conn.execute(sa.select(ORIGINS.c.channel_id, ORIGINS.c.declared_at).where(
                ORIGINS.c.org_id == org_id, ORIGINS.c.user_id == user_id)).first()
        return (row.channel_id, utc(row.declared_at)) if row else None

    def channels(self, org_id: str) -> list[dict[str, Any]]:
        """Channels the bot has seen in this org (for `revenant teams channels`), latest first."""
        stmt = (sa.select(CONVERSATIONS.c.channel_id, CONVERSATIONS.c.team_id,
                          sa.func.max(CONVERSATIONS.c.updated_at).label("seen"))
                .where(CONVERSATIONS.c.org_id == org_id, CONVERSATIONS.c.channel_id.is_not(None))
                .group_by(CONVERSATIONS.c.channel_id, CONVERSATIONS.c.team_id))
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = list(conn.execute(stmt).all())
        rows.sort(key=lambda r: utc(r.seen), reverse=True)
        return [{"channel_id": r.channel_id, "team_id": r.team_id, "last_seen": utc(r.seen).isoformat()}
                for r in rows]


def _reference(row: Any) -> dict[str, Any] | None:
    return dict(row.reference) if row is not None and row.reference else None


def _delete_origin(conn: Connection, org_id: str, user_id: str) -> None:
    conn.execute(ORIGINS.delete().where(ORIGINS.c.org_id == org_id, ORIGINS.c.user_id == user_id))
