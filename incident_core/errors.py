"""The domain error tree: every error a responder may see derives from IncidentError."""

from __future__ import annotations

from incident_core import richtext as rt


class IncidentError(Exception):
    """Base of every domain error; its message is written for the person who caused it.

    The message may be rich text (a command in code, a title as data); `str()` is its plain text
    and `content` the structure chat adapters render.
    """

    def __init__(self, message: str | rt.Rich = "", *args: object) -> None:
        self.content = rt.text(message)
        super().__init__(message if isinstance(message, str) else message.plain(), *args)


class ValidationError(IncidentError):
    """A command carried a value the domain cannot accept."""


class InvalidTransition(IncidentError):
    """The incident cannot move from its current state the way the command asked."""


class PermissionDenied(IncidentError):
    """The actor's role in the org does not allow the command."""


class NotFound(IncidentError):
    """The incident, org or project named does not exist (in this org)."""


class ConcurrencyConflict(IncidentError):
    """Someone else changed the incident at the same time; reload and retry."""


class DuplicateRequest(IncidentError):
    """The idempotency key was seen before; carries the first result."""


class StoreUnavailable(IncidentError):
    """The database did not answer in time (down, frozen, overloaded); nothing was recorded, retry shortly."""

    def __init__(self, message: str = "the incident database is not answering right now; nothing was recorded, "
                 "try again in a few seconds", *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
