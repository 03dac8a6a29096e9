"""Lazy listener work taken from the durable record of acknowledged requests, not from memory.

When a request arrives, the route records it (with its replay check) before Bolt acknowledges it;
Bolt then runs only the ack functions, and `start` merely wakes the process's drain loop. Working
a recorded request means dispatching it through the same Bolt app again as a lazy-only request
(Bolt's own mechanism for lazy listeners run elsewhere, as on AWS Lambda): middleware resolves the
org again, ack functions are skipped, and the lazy functions Bolt starts are collected here and run
to completion, their errors raised to the caller (which retries the request later).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_utils import build_async_required_kwargs
from slack_bolt.lazy_listener.async_runner import AsyncLazyListenerRunner
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_bolt.util.utils import get_arg_names_of_callable

WORK_HEADER = "x-revenant-acked-work"  # marks a dispatch that works a recorded request
LAZY_ONLY = "x-slack-bolt-lazy-only"
KEPT_HEADERS = ("content-type", "x-slack-retry-num", "x-slack-retry-reason")

LazyFunction = Callable[..., Awaitable[None]]


def kept_headers(headers: Any) -> dict[str, str]:
    """The request headers worth recording (never the signature: the row is already verified)."""
    return {name: str(headers[name]) for name in KEPT_HEADERS if headers.get(name) is not None}


class DurableLazyRunner(AsyncLazyListenerRunner):
    """Bolt's lazy-listener runner over the durable record: live requests only wake the drain loop."""

    def __init__(self, logger: logging.Logger, wake: Callable[[], None] = lambda: None) -> None:
        self.logger = logger
        self.wake = wake
        self._collected: dict[str, list[tuple[LazyFunction, AsyncBoltRequest]]] = {}

    def start(self, function: LazyFunction, request: AsyncBoltRequest) -> None:
        marks = request.headers.get(WORK_HEADER)
        work = marks[0] if marks else None
        if work is None:
            self.wake()  # the request is recorded already; some process's drain loop works it
            return
        self._collected.setdefault(work, []).append((function, request))

    def install(self, bolt: AsyncApp) -> None:
        """Make this Bolt's lazy-listener runner, and skip Bolt's copy of a live request for it.

        Bolt deep-copies the request for every lazy function it starts (~1–2 ms of the event loop's time per
        acknowledgement, most of the time between a request and its 200); a live request is only a wake-up
        here, so it is not copied. A recorded request being worked is copied and collected as before."""
        listeners = bolt.listener_runner
        listeners.lazy_listener_runner = self
        copy_and_start = listeners._start_lazy_function

        def start_lazy_function(function: LazyFunction, request: AsyncBoltRequest) -> None:
            if request.headers.get(WORK_HEADER):
                copy_and_start(function, request)
            else:
                self.wake()  # the request is recorded already; some process's drain loop works it

        listeners._start_lazy_function = start_lazy_function  # type: ignore[method-assign, assignment]

    async def work(self, bolt: AsyncApp, *, body: str, headers: dict[str, Any], mode: str = "http") -> int:
        """Run the lazy work of one recorded request; returns how many lazy functions ran."""
        marker = uuid.uuid4().hex
        request = AsyncBoltRequest(body=json.loads(body) if mode == "socket_mode" else body,
                                   headers={**{k: [str(v)] for k, v in headers.items()},
                                            LAZY_ONLY: ["1"], WORK_HEADER: [marker]}, mode=mode)
        request.context.ack.response = BoltResponse(status=200)  # acknowledged when it arrived: no ack now
        try:
            response = await bolt.async_dispatch(request)
            jobs = self._collected.pop(marker, [])
        finally:
            self._collected.pop(marker, None)
        if response.status >= 500:  # e.g. the tenant middleware could not reach the database: try again later
            raise RuntimeError(f"the recorded request could not be dispatched ({response.status}: "
                               f"{str(response.body)[:200]})")
        for function, lazy_request in jobs:
            await function(**build_async_required_kwargs(
                logger=self.logger, required_arg_names=get_arg_names_of_callable(function), request=lazy_request,
                response=None, this_func=function))
        return len(jobs)
