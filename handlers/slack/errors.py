"""One error handler for Slack: domain errors become the person's message; anything else a reference."""

from __future__ import annotations

import logging
import uuid

from incident_core import richtext as rt
from incident_core.errors import IncidentError

log = logging.getLogger("revenant.slack")


def explain(exc: BaseException) -> rt.Rich:
    """What to tell the person who clicked or typed."""
    if isinstance(exc, IncidentError):
        return rt.prefix(exc.content, rt.emoji("warning"), " ")
    ref = uuid.uuid4().hex[:12]
    log.error("slack request failed (ref %s)", ref, exc_info=exc)
    return rt.doc(rt.para(rt.emoji("boom"), " Something went wrong on our side (reference ", rt.code(ref),
                          "). It is logged; try again in a moment."))
