"""Secrets at rest (Slack installation tokens): Fernet from `cryptography`, keys from the environment.

REVENANT_ENCRYPTION_KEY holds one or more Fernet keys, comma-separated: the first encrypts, every one
decrypts, so a key is rotated by putting the new one first and dropping the old one once everything
was sealed again. Sealed values carry a prefix; a value without it was stored before encryption and
is read as it is, until the workspace installs again and its new tokens are sealed.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PREFIX = "fernet:"


class SecretBoxError(ValueError):
    """A key that is not a Fernet key, or a sealed value no configured key opens."""


class SecretBox:
    """seal()/open() for short secrets stored in the database."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise SecretBoxError("REVENANT_ENCRYPTION_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except (ValueError, TypeError):
            raise SecretBoxError("REVENANT_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), "
                                 "comma-separated; make one with: python -c 'from cryptography.fernet import "
                                 "Fernet; print(Fernet.generate_key().decode())'") from None

    def seal(self, value: str | None) -> str | None:
        """The sealed form of `value` (None stays None; a sealed value is not sealed twice)."""
        if value is None or value.startswith(PREFIX):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        """The plain value; SecretBoxError when no configured key opens it."""
        if value is None or not value.startswith(PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode()).decode()
        except InvalidToken:
            raise SecretBoxError("a stored Slack token cannot be decrypted with REVENANT_ENCRYPTION_KEY "
                                 "(was the key changed without keeping the old one?)") from None
