"""The access log: one line per answer (remote address, request line, status, bytes, seconds taken; the logging
record carries the time), except for accepted signal deliveries.

A 202 from POST /hooks/{source} is an accepted delivery: revenant_signals_accepted_total and
revenant_ingest_seconds count them. An alert storm sends thousands a second, and a line each cost the server
~120,000 instructions (aiohttp's formatting, a log record, its formatting and a write; docs/benchmarks.md,
"eleventh session (keyparam)"). Every other answer (each refusal of a delivery included) is logged as before.
REVENANT_ACCESS_LOG_ACCEPTED=1 logs accepted deliveries too (aiohttp's own logger), for an operator tracing one
sender's deliveries.
"""

from __future__ import annotations

from aiohttp.abc import BaseRequest, StreamResponse
from aiohttp.web_log import AccessLogger

ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tf'


def access_log_class(*, log_accepted: bool) -> type[AccessLogger]:
    """The logger `serve` uses: silent for accepted deliveries unless asked to log them too."""
    return AccessLogger if log_accepted else AccessLog


class AccessLog(AccessLogger):
    """aiohttp's access logger, silent for accepted signal deliveries."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if response.status == 202 and request.path.startswith("/hooks/"):
            return
        super().log(request, response, time)
