"""The HTTP edge every route shares: a deadline for reading the body, supported Content-Encodings, and
JSON errors for both (never a 500, a traceback or a text/plain answer naming a missing package).

Slow clients are bounded twice: a connection that has not sent a complete request head within the
server's keep-alive timeout is closed by aiohttp (see bot/server.py), and a body that has not
arrived `body_timeout` seconds after the request began is answered 408 and the connection closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

DEADLINE_KEY = web.RequestKey("revenant_read_deadline", float)
# What aiohttp decodes (br with the brotli package, zstd with backports.zstd); anything else is refused up front.
ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip", "deflate", "br", "zstd"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BodyError(Exception):
    """A body that cannot be read: its status and the sentence the sender reads."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.close = status, message, close

    def response(self) -> web.Response:
        """The JSON answer (408 closes the connection: the rest of the body may still trickle in)."""
        headers = {"Connection": "close"} if self.close else None
        return web.json_response({"error": self.message}, status=self.status, headers=headers)


def edge_middleware(*, body_timeout: float) -> Any:
    """Middleware: refuse unsupported Content-Encodings, start each request's body deadline, answer BodyError."""

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if request.body_exists and encoding not in ENCODINGS:
            return web.json_response({"error": f"Content-Encoding {encoding[:40]!r} is not supported; send the "
                                      "body uncompressed or as gzip, deflate, br or zstd", "supported": sorted(ENCODINGS - {""})},
                                     status=415)
        request[DEADLINE_KEY] = asyncio.get_running_loop().time() + body_timeout
        try:
            return await handler(request)
        except BodyError as exc:
            return exc.response()

    return edge


async def read_body(request: web.Request, *, limit: int) -> bytes:
    """The whole body, at most `limit` bytes (413 beyond), by the request's deadline (408 after it)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyError(413, f"body is {request.content_length} bytes; the limit is {limit} bytes")
    content = request.content
    if content.is_eof() and not content.exception():  # all of it arrived with the head: no deadline to keep
        try:
            body = content.read_nowait()
        except Exception as exc:  # noqa: BLE001 — as below: the sender's mistake
            raise BodyError(400, f"the body could not be read: {type(exc).__name__}") from None
        if len(body) > limit:
            raise BodyError(413, f"body exceeds the limit of {limit} bytes")
        return body
    deadline = request.get(DEADLINE_KEY)
    chunks, size = [], 0
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise BodyError(413, f"body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyError(408, "the request body did not arrive in time; send it in one go", close=True) from None
    except BodyError:
        raise
    except Exception as exc:  # noqa: BLE001 — a corrupt gzip stream and the like: the sender's mistake
        raise BodyError(400, f"the body could not be read: {type(exc).__name__}") from None
    return b"".join(chunks)
