"""Small builders shared by tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.model import OrgRole, Severity
from incident_core.ports import Org


@dataclass
class World:
    app: App
    org: Org

    @property
    def deps(self) -> uc.Deps:
        return self.app.deps


def new_org(app: App, name: str | None = None, *, members: dict[str, OrgRole] | None = None) -> World:
    org = app.directory.create_org(name or f"org-{uuid.uuid4().hex[:10]}")
    for user, role in (members or {}).items():
        app.directory.set_role(org.id, user, role)
    return World(app=app, org=org)


def declare(world: World, title: str = "API errors", *, actor: str = "u:alice",
            severity: Severity = Severity.SEV3) -> uc.Result:
    return uc.declare_incident(deps=world.deps, org_id=world.org.id, actor=actor, title=title, severity=severity)
