"""Action.Execute verbs and turn-state keys — one enum each, never bare strings."""

from __future__ import annotations

from enum import StrEnum

PLATFORM = "teams"
BOT_NAME = "Revenant"


class Verb(StrEnum):
    """The `verb` of every Action.Execute button the bot renders."""

    SET_STATUS = "incident.status"
    SET_SEVERITY = "incident.severity"
    DECLARE = "incident.declare"
    REFRESH = "warroom.refresh"
    REQUEST_ACTION = "action.request"
    CONFIRM_ACTION = "action.confirm"
    APPROVE_ACTION = "action.approve"
    DENY_ACTION = "action.deny"
    UNDO_ACTION = "action.undo"
    RUN_SUGGESTION = "suggestion.run"
    SUGGESTION_FEEDBACK = "suggestion.feedback"
    POSTMORTEM_SAVE = "postmortem.save"
    POSTMORTEM_SUBMIT = "postmortem.submit"
    POSTMORTEM_APPROVE = "postmortem.approve"


# The postmortem review card's buttons: step → verb (commands.py posts the card, invokes.py answers it).
PM_VERBS = {"save": Verb.POSTMORTEM_SAVE.value, "submit": Verb.POSTMORTEM_SUBMIT.value,
            "approve": Verb.POSTMORTEM_APPROVE.value}

class InputId(StrEnum):
    """Input ids of the declare form (Action.Execute merges them into the action's data)."""

    TITLE = "title"
    SEVERITY = "severity"


TENANT_KEY = "revenant.teams.tenant"
