"""serve's event loop: uvloop's by default, asyncio's on request (REVENANT_EVENT_LOOP)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from pydantic import ValidationError

from bot.server import event_loop
from bot.settings import Settings


def test_uvloop_by_default_and_asyncio_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVENANT_EVENT_LOOP", raising=False)
    assert Settings().event_loop == "uvloop"  # type: ignore[call-arg]
    loop = event_loop(Settings().event_loop)  # type: ignore[call-arg]
    try:
        assert isinstance(loop, uvloop.Loop)
        # what serve relies on from its loop: a thread's result wakes it, and signal handlers can be installed
        assert loop.run_until_complete(asyncio.to_thread(lambda: 41 + 1)) == 42
    finally:
        loop.close()
    monkeypatch.setenv("REVENANT_EVENT_LOOP", "asyncio")
    plain = event_loop(Settings().event_loop)  # type: ignore[call-arg]
    try:
        assert not isinstance(plain, uvloop.Loop) and isinstance(plain, asyncio.AbstractEventLoop)
    finally:
        plain.close()


def test_an_unknown_loop_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVENANT_EVENT_LOOP", "trio")
    with pytest.raises(ValidationError):
        Settings()  # type: ignore[call-arg]
