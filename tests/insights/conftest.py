"""Insight tests: a database per test, and the Slack world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.bootstrap import App
from tests.conftest import fresh_postgres, make_app
from tests.insights.history import StepClock
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


@pytest.fixture
def clocked(db_url: str, tmp_path: Path) -> Iterator[tuple[App, StepClock]]:
    """An app on a clock the test moves by hand, starting now (recurrence tests)."""
    clock = StepClock(datetime.now(UTC))
    app = make_app(db_url, tmp_path, clock=clock)
    yield app, clock
    app.close()
