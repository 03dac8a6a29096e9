"""Block Kit action, block and callback ids — one enum each, never bare strings."""

from __future__ import annotations

from enum import StrEnum

COMMAND = "/revenant"


class ActionId(StrEnum):
    SET_STATUS = "revenant_set_status"
    SET_SEVERITY = "revenant_set_severity"


class BlockId(StrEnum):
    WAR_ROOM_BUTTONS = "war_room_buttons"
    WAR_ROOM_SEVERITY = "war_room_severity"
    DECLARE_TITLE = "declare_title"
    DECLARE_SEVERITY = "declare_severity"
    DECLARE_SUMMARY = "declare_summary"


class CallbackId(StrEnum):
    DECLARE = "revenant_declare"


class InputId(StrEnum):
    VALUE = "value"
