"""One error handler for Teams: domain errors become the person's message; anything else a logged reference."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from botbuilder.schema import AdaptiveCardInvokeResponse

from handlers.teams.text import humanize
from incident_core.errors import IncidentError, NotFound, PermissionDenied, StoreUnavailable, ValidationError

log = logging.getLogger("revenant.teams")
ERROR_TYPE = "application/vnd.microsoft.error"


def explain(exc: BaseException) -> str:
    """What to tell the person who typed or clicked."""
    if isinstance(exc, IncidentError):
        return f"⚠️ {exc}"
    ref = uuid.uuid4().hex[:12]
    log.error("teams request failed (ref %s)", ref, exc_info=exc)
    return f"💥 Something went wrong on our side (reference `{ref}`). It is logged; try again in a moment."


def status_of(exc: BaseException) -> int:
    """The statusCode of an Action.Execute error answer."""
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ValidationError):
        return 400
    if isinstance(exc, StoreUnavailable):
        return 503
    return 409 if isinstance(exc, IncidentError) else 500


def invoke_error(exc: BaseException, names: Mapping[str, str] | None = None) -> AdaptiveCardInvokeResponse:
    """An Action.Execute answer Teams shows to the clicker only; the card stays as it was."""
    code = type(exc).__name__ if isinstance(exc, IncidentError) else "InternalError"
    return AdaptiveCardInvokeResponse(status_code=status_of(exc), type=ERROR_TYPE,
                                      value={"code": code, "message": humanize(explain(exc), names or {})})
