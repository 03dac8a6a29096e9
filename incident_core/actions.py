"""Playbook actions: the deciders for requesting, approving, running and undoing actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ACTION_DECIDERS: dict[type, Callable[[Any, Any], list[Any]]] = {}
