"""The error every publisher raises when a person must fix something (credentials, names, access)."""

from __future__ import annotations


class PublishError(RuntimeError):
    """A publish attempt failed; the message says what to change. The outbox retries it with backoff."""
