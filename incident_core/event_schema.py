"""Event schema versions and the upcasters that bring older stored shapes to the current one.

Every stored event records the schema version of its payload (`metadata.schema_version`; rows
written before versions existed have none and count as 1). Reading an event runs its payload
through the chain of upcasters from the stored version to the current one, so the domain only
ever sees today's shape and old streams replay unchanged. A type's current version is one past
its last upcaster: changing the shape of an event means adding an upcaster here, nothing else.

Upcasters are pure functions over the JSON payload (no envelope, no I/O), keyed by the type name
so this module imports nothing from the events it upgrades.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

FIRST_VERSION = 1
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register `fn` as the step from `from_version` to `from_version + 1` of `type_name`."""
    def register(fn: Upcaster) -> Upcaster:
        if (type_name, from_version) in _UPCASTERS:
            raise ValueError(f"two upcasters for {type_name} v{from_version}")
        if from_version > FIRST_VERSION and (type_name, from_version - 1) not in _UPCASTERS:
            raise ValueError(f"{type_name}: an upcaster from v{from_version} needs one from v{from_version - 1}")
        _UPCASTERS[(type_name, from_version)] = fn
        return fn
    return register


def current_version(type_name: str) -> int:
    """The schema version events of this type are written with today."""
    version = FIRST_VERSION
    while (type_name, version) in _UPCASTERS:
        version += 1
    return version


def upcast(type_name: str, version: int, data: Payload) -> Payload:
    """The payload in the current shape; a version newer than this code knows is refused (a newer
    process wrote it: replaying it here would silently drop what it added)."""
    target = current_version(type_name)
    if version > target:
        raise ValueError(f"{type_name} schema v{version} is newer than this code understands (v{target})")
    for step in range(max(version, FIRST_VERSION), target):
        data = _UPCASTERS[(type_name, step)](dict(data))
    return data


# --- the upcasters ------------------------------------------------------------------------------


@upcaster("ActionRequested", 1)
def _action_gate_none_when_cleared(data: Payload) -> Payload:
    """v1 said "runs now" with `awaiting: ""`; v2 types the gate (`ActionGate`) and says it with null."""
    data["awaiting"] = data.get("awaiting") or None
    return data
