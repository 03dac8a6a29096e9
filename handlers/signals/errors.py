"""Errors a signal normalizer may raise: a bad payload (422) or an unknown source (404)."""

from __future__ import annotations

from typing import Any


class SignalHandlerError(Exception):
    """Base of the two errors below; `status` is the HTTP status the webhook route should answer."""

    status: int = 400

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body for the HTTP answer."""
        return {"error": str(self)}


class PayloadError(SignalHandlerError):
    """The payload does not have the shape its source sends; `field` is the JSON path, e.g. alerts[0].labels."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(f"{field or '(body)'}: {message}")
        self.status = status
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body for the HTTP answer."""
        return {"error": "invalid payload", "field": self.field or "(body)", "message": self.message}


class UnknownSource(SignalHandlerError):
    """No normalizer exists for the source named in the URL."""

    status = 404

    def __init__(self, source: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown signal source {source[:60]!r}; known sources: {', '.join(known)}")
        self.source = source
        self.known = known

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body for the HTTP answer."""
        return {"error": str(self), "known_sources": list(self.known)}
