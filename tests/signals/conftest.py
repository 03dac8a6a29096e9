"""The real web app on loopback (tests/handlers' fixtures) for the signal end-to-end tests."""

from tests.handlers.conftest import clocked_app, server  # noqa: F401  (pytest fixtures)
