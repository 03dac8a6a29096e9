"""RBAC policy per org role."""

from __future__ import annotations

import pytest

from incident_core.errors import PermissionDenied
from incident_core.model import OrgRole
from incident_core.rbac import Permission, allows, require

EXPECTED = {
    OrgRole.VIEWER: {Permission.READ},
    OrgRole.RESPONDER: {Permission.READ, Permission.DECLARE, Permission.UPDATE, Permission.RUN_ACTION,
                        Permission.EDIT_POSTMORTEM},
    OrgRole.COMMANDER: set(Permission) - {Permission.ADMIN},
    OrgRole.ADMIN: set(Permission),
}


@pytest.mark.parametrize("role", list(OrgRole))
def test_policy_table(role: OrgRole) -> None:
    assert {p for p in Permission if allows(role, p)} == EXPECTED[role]


def test_refusal_names_role_needed() -> None:
    with pytest.raises(PermissionDenied, match="only a commander or above may approve postmortems"):
        require(OrgRole.RESPONDER, Permission.APPROVE_POSTMORTEM, actor="bob")
