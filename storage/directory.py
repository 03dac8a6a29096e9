"""Orgs, projects, memberships, platform bindings and webhook tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, ProgrammingError

from incident_core.errors import NotFound, ValidationError
from incident_core.model import OrgRole
from incident_core.ports import Org, Project
from storage.engine import is_postgres, scope_to_org
from storage.records import utc
from storage.reminder_tables import LOOK_NOW, REMINDER_DUE
from storage.tables import Membership, Organization, PlatformBinding, ProjectRow, WebhookToken
from storage.ttl_cache import TtlCache

ORGS = Organization.__table__  # type: ignore[attr-defined]
PROJECTS = ProjectRow.__table__  # type: ignore[attr-defined]
MEMBERS = Membership.__table__  # type: ignore[attr-defined]
BINDINGS = PlatformBinding.__table__  # type: ignore[attr-defined]
TOKENS = WebhookToken.__table__  # type: ignore[attr-defined]

TOKEN_PREFIX = "rvn"
_OWNER_ONLY = ("moving or removing a link needs the schema owner's rights: run it with the REVENANT_DATABASE_URL "
               "that `revenant db upgrade` uses")
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class TokenOwner:
    org_id: str
    project_id: str | None
    token_id: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _well_formed(token: str) -> bool:
    """`rvn_<32-character org id>_<secret>`: anything else is refused without a lookup."""
    parts = token.split("_", 2)
    return len(parts) == 3 and parts[0] == TOKEN_PREFIX and len(parts[1]) == 32 and parts[1].isalnum()


def _org(row: Any) -> Org:
    return Org(id=row.id, name=row.name, default_role=OrgRole(row.default_role), settings=dict(row.settings or {}))


class SqlDirectory:
    """Directory port plus the admin operations the CLI needs.

    Orgs looked up by id and verified webhook tokens are remembered for `cache_seconds`, as both are
    read for every incoming signal; changes made through this object apply at once, changes made by
    another process within `cache_seconds` (token expiry is always checked against the clock).
    """

    def __init__(self, engine: Engine, cache_seconds: float = CACHE_SECONDS,
                 admin: Callable[[], Engine] | None = None) -> None:
        self.engine = engine
        self._admin_factory = admin
        self._admin_engine: Engine | None = None
        self._orgs: TtlCache[str, Org] = TtlCache(cache_seconds)
        self._tokens: TtlCache[str, tuple[TokenOwner, datetime | None]] = TtlCache(cache_seconds)

    # --- orgs -----------------------------------------------------------------------------
    def create_org(self, name: str, *, default_role: OrgRole = OrgRole.RESPONDER) -> Org:
        name = name.strip()
        if not name or len(name) > 100:
            raise ValidationError("org name must be 1–100 characters")
        org_id = uuid.uuid4().hex
        try:
            with self.engine.begin() as conn:
                conn.execute(ORGS.insert().values(id=org_id, name=name, default_role=default_role.value,
                                                  incident_seq=0, settings={}, created_at=datetime.now(UTC)))
        except IntegrityError:
            raise ValidationError(f"an org named {name!r} already exists") from None
        return Org(id=org_id, name=name, default_role=default_role)

    def org(self, name_or_id: str) -> Org | None:
        cached = self._orgs.get(name_or_id)
        if cached is not None:
            return cached
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(ORGS).where(sa.or_(ORGS.c.id == name_or_id, ORGS.c.name == name_or_id))).first()
        if row is None:
            return None
        org = _org(row)
        if org.id == name_or_id:
            self._orgs.put(org.id, org)
        return org

    def forget_org(self, org_id: str) -> None:
        """Drop the remembered copy of the org: the next read sees what another process changed."""
        self._orgs.pop(org_id)

    def require_org(self, name_or_id: str) -> Org:
        org = self.org(name_or_id)
        if org is None:
            raise NotFound(f"no org named or with id {name_or_id!r}; `revenant org create NAME` makes one")
        return org

    def orgs(self) -> list[Org]:
        with self.engine.begin() as conn:
            return [_org(r) for r in conn.execute(sa.select(ORGS).order_by(ORGS.c.name))]

    def update_org_settings(self, org_id: str, settings: dict[str, Any]) -> None:
        """Replace the org's settings; its indexed incidents are due a reminder look at once (their times may move)."""
        self.forget_org(org_id)
        with self.engine.begin() as conn:
            conn.execute(ORGS.update().where(ORGS.c.id == org_id).values(settings=settings))
            scope_to_org(conn, org_id)
            conn.execute(REMINDER_DUE.update().where(REMINDER_DUE.c.org_id == org_id)
                         .values(due_at=LOOK_NOW, seq=REMINDER_DUE.c.seq + 1))

    # --- projects -------------------------------------------------------------------------
    def create_project(self, org_id: str, name: str, settings: dict[str, Any] | None = None) -> Project:
        project = Project(id=uuid.uuid4().hex, org_id=org_id, name=name.strip(), settings=dict(settings or {}))
        try:
            with self.engine.begin() as conn:
                scope_to_org(conn, org_id)
                conn.execute(PROJECTS.insert().values(id=project.id, org_id=org_id, name=project.name,
                                                      settings=project.settings, created_at=datetime.now(UTC)))
        except IntegrityError:
            raise ValidationError(f"project {name!r} already exists in this org") from None
        return project

    def project(self, org_id: str, name_or_id: str) -> Project | None:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            row = conn.execute(sa.select(PROJECTS).where(
                PROJECTS.c.org_id == org_id, sa.or_(PROJECTS.c.id == name_or_id, PROJECTS.c.name == name_or_id)
            )).first()
        return Project(id=row.id, org_id=row.org_id, name=row.name, settings=dict(row.settings or {})) if row else None

    def update_project_settings(self, org_id: str, project_id: str, settings: dict[str, Any]) -> None:
        """Replace one project's settings (e.g. its `teams_channel`)."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(PROJECTS.update().where(PROJECTS.c.org_id == org_id, PROJECTS.c.id == project_id)
                         .values(settings=settings))

    def projects(self, org_id: str) -> list[Project]:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(PROJECTS).where(PROJECTS.c.org_id == org_id).order_by(PROJECTS.c.name))
            return [Project(id=r.id, org_id=r.org_id, name=r.name, settings=dict(r.settings or {})) for r in rows]

    # --- memberships ----------------------------------------------------------------------
    def set_role(self, org_id: str, user: str, role: OrgRole, display_name: str | None = None) -> None:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(MEMBERS.delete().where(MEMBERS.c.org_id == org_id, MEMBERS.c.user_id == user))
            conn.execute(MEMBERS.insert().values(org_id=org_id, user_id=user, role=role.value,
                                                 display_name=display_name))

    def role_of(self, org_id: str, user: str) -> OrgRole | None:
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            role = conn.execute(sa.select(MEMBERS.c.role).where(
                MEMBERS.c.org_id == org_id, MEMBERS.c.user_id == user)).scalar()
        return OrgRole(role) if role else None

    def display_names(self, org_id: str) -> dict[str, str]:
        """User id → display name, for the members whose name is known (chat cards show names, not ids)."""
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(MEMBERS.c.user_id, MEMBERS.c.display_name).where(
                MEMBERS.c.org_id == org_id, MEMBERS.c.display_name.is_not(None)))
            return {r.user_id: r.display_name for r in rows}

    # --- platform bindings ----------------------------------------------------------------
    def bind(self, platform: str, external_id: str, org_id: str, *, move: bool = False) -> None:
        """Bind a Slack team/enterprise or Teams tenant to an org; one bound to another org is moved only with
        `move` (ValidationError otherwise)."""
        current = self.bound_org(platform, external_id)
        if current == org_id:
            return
        if current is None:
            current = self._link(platform, external_id, org_id)
            if current == org_id:
                return
        if not move:
            other = self.org(current)
            raise ValidationError(f"{external_id} is already linked to org {other.name if other else current}; "
                                  "moving it to another org is an administrator's change: repeat with --move")
        try:
            with self._admin().begin() as conn:
                conn.execute(BINDINGS.delete().where(BINDINGS.c.platform == platform,
                                                     BINDINGS.c.external_id == external_id))
                conn.execute(BINDINGS.insert().values(platform=platform, external_id=external_id, org_id=org_id,
                                                      created_at=datetime.now(UTC)))
        except ProgrammingError:  # insufficient privilege: this login is not the schema owner
            raise ValidationError(_OWNER_ONLY) from None

    def _link(self, platform: str, external_id: str, org_id: str) -> str:
        """Add a binding unless one exists; returns the org the external id is bound to now."""
        with self.engine.begin() as conn:
            if is_postgres(conn):  # the app role may add bindings only through this function (0008_i13)
                return str(conn.execute(sa.text("SELECT revenant_link(:p, :e, :o)"),
                                        {"p": platform, "e": external_id, "o": org_id}).scalar())
            conn.execute(BINDINGS.insert().values(platform=platform, external_id=external_id, org_id=org_id,
                                                  created_at=datetime.now(UTC)))
        return org_id

    def _admin(self) -> Engine:
        """The schema owner's engine for administrators' changes (moves); the app's own without one."""
        if self._admin_factory is None or not is_postgres(self.engine):
            return self.engine
        if self._admin_engine is None:
            self._admin_engine = self._admin_factory()
        return self._admin_engine

    def close(self) -> None:
        """Dispose of the owner's engine if one was opened."""
        if self._admin_engine is not None:
            self._admin_engine.dispose()

    def unbind(self, platform: str, external_id: str) -> None:
        """Remove a binding (an administrator's change, like a move)."""
        try:
            with self._admin().begin() as conn:
                conn.execute(BINDINGS.delete().where(BINDINGS.c.platform == platform,
                                                     BINDINGS.c.external_id == external_id))
        except ProgrammingError:
            raise ValidationError(_OWNER_ONLY) from None

    def bindings(self, org_id: str, platform: str) -> list[str]:
        """External ids (Slack teams, Teams tenants) bound to this org on a platform."""
        with self.engine.begin() as conn:
            return list(conn.execute(sa.select(BINDINGS.c.external_id).where(
                BINDINGS.c.org_id == org_id, BINDINGS.c.platform == platform)).scalars())

    def bound_org(self, platform: str, external_id: str) -> str | None:
        with self.engine.begin() as conn:
            return conn.execute(sa.select(BINDINGS.c.org_id).where(
                BINDINGS.c.platform == platform, BINDINGS.c.external_id == external_id)).scalar()

    # --- webhook tokens -------------------------------------------------------------------
    def issue_token(self, org_id: str, *, project_id: str | None = None) -> str:
        """Create a token and return it; only its hash is stored, so it is shown once."""
        token = f"{TOKEN_PREFIX}_{org_id}_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(TOKENS.insert().values(id=uuid.uuid4().hex, org_id=org_id, project_id=project_id,
                                                token_hash=hash_token(token), prefix=token[:12] + "…",
                                                created_at=datetime.now(UTC), expires_at=None))
        return token

    def rotate_token(self, org_id: str, *, grace: timedelta = timedelta(hours=24),
                     project_id: str | None = None) -> str:
        """Issue a new token; existing ones keep working until the grace period ends."""
        self._tokens.clear()  # cached tokens carry their old expiry
        ends = datetime.now(UTC) + grace
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            conn.execute(TOKENS.update().where(
                TOKENS.c.org_id == org_id, TOKENS.c.project_id.is_(None) if project_id is None
                else TOKENS.c.project_id == project_id,
                sa.or_(TOKENS.c.expires_at.is_(None), TOKENS.c.expires_at > ends),
            ).values(expires_at=ends))
        return self.issue_token(org_id, project_id=project_id)

    def cached_token(self, token: str) -> TokenOwner | None:
        """The owner of a token this process verified within `cache_seconds` and that has not expired since;
        None when the cache cannot say (never reads the database: safe on an event loop). A token rotated
        here is forgotten at once; one expired or replaced by another process stops working within
        `cache_seconds`, as with `authenticate_token`."""
        if not _well_formed(token):
            return None
        cached = self._tokens.get(hash_token(token))
        if cached is not None and (cached[1] is None or cached[1] > datetime.now(UTC)):
            return cached[0]
        return None

    def authenticate_token(self, token: str) -> TokenOwner | None:
        """The owner of a valid, unexpired token, compared in constant time; None otherwise."""
        if not _well_formed(token):
            return None
        cached = self.cached_token(token)
        if cached is not None:
            return cached
        org_id, digest, now = token.split("_", 2)[1], hash_token(token), datetime.now(UTC)
        with self.engine.begin() as conn:
            scope_to_org(conn, org_id)
            rows = conn.execute(sa.select(TOKENS).where(TOKENS.c.org_id == org_id)).all()
        found = None
        for row in rows:
            live = row.expires_at is None or utc(row.expires_at) > now
            if hmac.compare_digest(row.token_hash, digest) and live:
                found = TokenOwner(org_id=row.org_id, project_id=row.project_id, token_id=row.id)
                self._tokens.put(digest, (found, utc(row.expires_at) if row.expires_at else None))
        return found
