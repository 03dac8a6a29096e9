"""People's Teams channel accounts by org and tenant (handlers/teams/people.PeopleStore), always scoped by org.

Every activity names its sender, so `note` runs for every turn: a bounded in-process cache of what was
written keeps it to one statement per new or changed person (per process, refreshed hourly), and the
upsert rewrites nothing when the row already says the same (another process may have written it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from storage.engine import is_postgres, scope_to_org
from storage.teams_tables import TeamsUserRow
from storage.ttl_cache import TtlCache

USERS = TeamsUserRow.__table__  # type: ignore[attr-defined]
KEY = ("org_id", "tenant_id", "user_id")
MAX_LOOKUP = 100  # people looked up per rendered message


class SeenAccount(Protocol):
    """An account seen in an activity (handlers/teams/people.TeamsAccount): `trusted` when Teams set it for
    the person themself, not read from someone else's mention."""

    @property
    def user_id(self) -> str: ...
    @property
    def teams_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def trusted(self) -> bool: ...


class SqlTeamsPeople:
    """The handlers' PeopleStore over SQL."""

    def __init__(self, engine: Engine, *, ttl: float = 3600.0, size: int = 10_000) -> None:
        self.engine = engine
        self._written: TtlCache[tuple[str, str, str], tuple[str, str]] = TtlCache(ttl, size=size)

    def note(self, org_id: str, tenant_id: str, accounts: Sequence[SeenAccount]) -> None:
        """Insert or update each account not already written as it is; a mention's account never overwrites."""
        fresh: dict[str, SeenAccount] = {}
        for found in accounts:
            if self._written.get((org_id, tenant_id, found.user_id)) != (found.teams_id, found.name):
                if found.trusted or found.user_id not in fresh:  # the sender's own account wins
                    fresh[found.user_id] = found
        if not fresh:
            return
        now = datetime.now(UTC)
        rows = {trusted: [{"org_id": org_id, "tenant_id": tenant_id, "user_id": a.user_id, "teams_id": a.teams_id,
                           "name": a.name, "updated_at": now} for a in fresh.values() if a.trusted == trusted]
                for trusted in (True, False)}
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            insert: Any = postgresql.insert(USERS) if is_postgres(conn) else sqlite.insert(USERS)
            if rows[True]:
                stmt = insert.values(rows[True])
                new = stmt.excluded
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=list(KEY), set_={"teams_id": new.teams_id, "name": new.name, "updated_at": new.updated_at},
                    where=sa.or_(USERS.c.teams_id != new.teams_id, USERS.c.name != new.name)))
            if rows[False]:
                conn.execute(insert.values(rows[False]).on_conflict_do_nothing(index_elements=list(KEY)))
        for a in fresh.values():
            self._written.put((org_id, tenant_id, a.user_id), (a.teams_id, a.name))

    def accounts(self, org_id: str, tenant_id: str, user_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Timeline id → (`29:` id, name) of these people in this org and tenant (read fresh, not cached)."""
        wanted = sorted({u for u in user_ids if u})[:MAX_LOOKUP]
        if not wanted or not tenant_id:
            return {}
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(USERS.c.user_id, USERS.c.teams_id, USERS.c.name).where(
                USERS.c.org_id == org_id, USERS.c.tenant_id == tenant_id, USERS.c.user_id.in_(wanted))).all()
        return {str(r.user_id): (str(r.teams_id), str(r.name)) for r in rows}
