"""RBAC policy: what each org role may do."""

from __future__ import annotations

from enum import StrEnum

from incident_core import richtext as rt
from incident_core.errors import PermissionDenied
from incident_core.model import OrgRole


class Permission(StrEnum):
    READ = "read"
    DECLARE = "declare"
    UPDATE = "update"  # status, severity, notes, roles, chat capture
    RUN_ACTION = "run_action"
    APPROVE_ACTION = "approve_action"
    EDIT_POSTMORTEM = "edit_postmortem"
    APPROVE_POSTMORTEM = "approve_postmortem"
    ADMIN = "admin"


_MINIMUM: dict[Permission, OrgRole] = {
    Permission.READ: OrgRole.VIEWER,
    Permission.DECLARE: OrgRole.RESPONDER,
    Permission.UPDATE: OrgRole.RESPONDER,
    Permission.RUN_ACTION: OrgRole.RESPONDER,
    Permission.EDIT_POSTMORTEM: OrgRole.RESPONDER,
    Permission.APPROVE_ACTION: OrgRole.COMMANDER,
    Permission.APPROVE_POSTMORTEM: OrgRole.COMMANDER,
    Permission.ADMIN: OrgRole.ADMIN,
}

_WHAT = {
    Permission.READ: "read incidents",
    Permission.DECLARE: "declare incidents",
    Permission.UPDATE: "change incidents",
    Permission.RUN_ACTION: "run playbook actions",
    Permission.APPROVE_ACTION: "approve high-risk actions",
    Permission.EDIT_POSTMORTEM: "edit postmortems",
    Permission.APPROVE_POSTMORTEM: "approve postmortems",
    Permission.ADMIN: "administer the org",
}


def allows(role: OrgRole, permission: Permission) -> bool:
    """True when `role` carries `permission`."""
    return role.level >= _MINIMUM[permission].level


def require(role: OrgRole, permission: Permission, *, actor: str = "you") -> None:
    """Raise PermissionDenied with a sentence naming the role needed."""
    if not allows(role, permission):
        needed = _MINIMUM[permission]
        who = rt.Mention(actor, actor.split(":", 1)[-1]) if ":" in actor else actor
        raise PermissionDenied(rt.doc(rt.para(
            who, f" is a {role.value} in this org; only a {needed.value} or above may {_WHAT[permission]}. "
            "Ask an org admin to change your role.")))
