"""Block Kit action, block and callback ids — one enum each, never bare strings."""

from __future__ import annotations

from enum import StrEnum

COMMAND = "/revenant"


class ActionId(StrEnum):
    SET_STATUS = "revenant_set_status"
    SET_SEVERITY = "revenant_set_severity"
    SUGGESTION_RUN = "revenant_suggestion_run"
    SUGGESTION_UP = "revenant_suggestion_up"
    SUGGESTION_DOWN = "revenant_suggestion_down"
    ACTION_CONFIRM = "revenant_action_confirm"
    ACTION_APPROVE = "revenant_action_approve"
    ACTION_DENY = "revenant_action_deny"
    ACTION_UNDO = "revenant_action_undo"


class BlockId(StrEnum):
    WAR_ROOM_BUTTONS = "war_room_buttons"
    WAR_ROOM_SEVERITY = "war_room_severity"
    DECLARE_TITLE = "declare_title"
    DECLARE_SEVERITY = "declare_severity"
    DECLARE_SUMMARY = "declare_summary"
    SUGGESTION = "suggestion"  # + "_<suggestion id>": one actions block per suggestion
    ACTION = "action"  # + "_<action id>": the buttons of one requested action


class CallbackId(StrEnum):
    DECLARE = "revenant_declare"


class InputId(StrEnum):
    VALUE = "value"


class PostmortemId(StrEnum):
    """Ids of the postmortem modals and the reminder buttons (block ids get a `:<section>:<n>` suffix)."""

    EDIT_CALLBACK = "revenant_pm_edit"
    REVIEW_CALLBACK = "revenant_pm_review"
    SECTION_BLOCK = "pm_section"
    ITEM_TITLE_BLOCK = "pm_item_title"
    ITEM_OWNER_BLOCK = "pm_item_owner"
    ITEM_ROW_BLOCK = "pm_item_row"
    DECISION_BLOCK = "pm_decision"
    MOMENTS_BLOCK = "pm_moments"
    ITEM_OWNER = "revenant_pm_item_owner"
    ITEM_PRIORITY = "revenant_pm_item_priority"
    ITEM_DUE = "revenant_pm_item_due"
    REMINDER_SNOOZE = "revenant_reminder_snooze"
