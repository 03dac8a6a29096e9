"""Insight tests: a database per test, and the Slack world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_postgres
from tests.slack.conftest import slack, slack_overrides, slack_world  # noqa: F401 (fixtures)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database per test on PostgreSQL too: these tests tick the scheduler and run an outbox loop, which work
    on every org of the database, and a message another test left for its stopped emulator would make them
    wait behind its retries."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'revenant.db'}"
    else:
        yield from fresh_postgres("revenant_insights")
