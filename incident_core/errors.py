"""The domain error tree: every error a responder may see derives from IncidentError."""

from __future__ import annotations


class IncidentError(Exception):
    """Base of every domain error; its message is written for the person who caused it."""


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
