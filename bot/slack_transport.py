"""Kept-alive connections to the Slack Web API for the outbound clients.

slack_sdk's sync WebClient opens a new connection (and, against slack.com, a new TLS session) for every
call through urllib; a war room's opening is ten calls. `SlackConnections` keeps a few idle connections per
host, shared by every org's client (the token travels in each request's header, never in the connection),
and `KeptAliveTransport` is the client's transport over them. Nothing else changes: answers other than 2xx
raise urllib's `HTTPError` (slack_sdk's retry handlers, 429 Retry-After among them, see the same thing),
a refused connection raises `URLError`, and a call that fails is never sent again here: the connection is
closed and the error raised, and the delivery's own retry finds what the call may have made.
"""

from __future__ import annotations

import http.client
import io
import select
import ssl
import threading
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request

IDLE_PER_HOST = 8
Key = tuple[str, str, int]


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """The server closed the idle connection (or sent something unasked): it cannot carry a request."""
    sock = conn.sock
    if sock is None:
        return True
    try:  # poll, not select: a process with more than 1,024 descriptors open is no exception
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class SlackConnections:
    """Idle HTTP(S) connections per (scheme, host, port), at most `idle` each; safe across threads."""

    def __init__(self, idle: int = IDLE_PER_HOST) -> None:
        self._idle_max = idle
        self._lock = threading.Lock()
        self._idle: dict[Key, list[http.client.HTTPConnection]] = {}
        self.opened = 0  # connections made (tests and benches read it)

    def take(self, key: Key, timeout: float, context: ssl.SSLContext | None) -> http.client.HTTPConnection:
        """An idle connection still open, else a new one (connected on first use)."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if not _dropped(conn):
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn
            conn.close()
        scheme, host, port = key
        self.opened += 1
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=context or ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def give(self, key: Key, conn: http.client.HTTPConnection) -> None:
        """Keep a connection whose answer was read in full for the next call (or close it when enough are idle)."""
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._idle_max:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


class KeptAliveTransport:
    """One Slack Web API request over a kept connection, answered as slack_sdk's urllib path answers it."""

    def __init__(self, connections: SlackConnections) -> None:
        self.connections = connections

    def send(self, url: str, req: Request, *, timeout: float, context: ssl.SSLContext | None) -> dict[str, Any]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        key = (scheme, parts.hostname or "", parts.port or (443 if scheme == "https" else 80))
        conn = self.connections.take(key, timeout, context)
        if conn.sock is None:
            try:
                conn.connect()
            except OSError as exc:  # as urllib reports a connection that could not be made
                conn.close()
                raise URLError(exc) from exc
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(req.get_method(), path or "/", body=req.data,
                         headers=dict(req.header_items()))
            resp = conn.getresponse()
            body = resp.read()
        except BaseException:
            conn.close()  # half a conversation: the connection is not reused, and the call is not repeated
            raise
        if resp.will_close:
            conn.close()
        else:
            self.connections.give(key, conn)
        headers = resp.headers
        if not 200 <= resp.status < 300:  # urllib's HTTPErrorProcessor raises for these
            raise HTTPError(url, resp.status, resp.reason, headers, io.BytesIO(body))
        if headers.get_content_type() == "application/gzip":
            return {"status": resp.status, "headers": headers, "body": body}
        return {"status": resp.status, "headers": headers, "body": body.decode(headers.get_content_charset() or "utf-8")}
