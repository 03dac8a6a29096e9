"""A watchdog for PostgreSQL connections waiting on a server that no longer answers.

A server that is stopped refuses connections at once, but one that is frozen (SIGSTOP, a paused VM,
a hung host) keeps its TCP connections open: the kernel acknowledges every packet, so neither TCP
keepalives nor `statement_timeout` (which the frozen server cannot enforce) ever end a query, and
the client waits for as long as the freeze lasts. psycopg waits for the server in one place,
`Connection.wait`; connections made through `watched_connection` register every such wait here.
When a wait has lasted `stall` seconds, the watchdog asks the server a question any live postmaster
answers at once (an SSLRequest on a fresh socket). If that gets no answer within `probe_timeout`,
the server is unresponsive: the watchdog shuts down the sockets of the stalled connections, psycopg
raises OperationalError in the waiting threads, and the pool discards those connections. A live
server that is merely slow answers the probe, and its statements are left alone (statement_timeout
bounds them on the server).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

log = logging.getLogger("revenant.db")

_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_IDLE_EXIT = 5.0  # the watchdog thread ends after this long without waits (it restarts on the next one)


def server_answers(host: str, port: int, timeout: float) -> bool:
    """True when a postmaster at host:port answers an SSLRequest within `timeout` seconds."""
    try:
        if host.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(os.path.join(host, f".s.PGSQL.{port}"))
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return False
    with sock:
        try:
            sock.settimeout(timeout)
            sock.sendall(_SSL_REQUEST)
            return bool(sock.recv(1))
        except OSError:
            return False


class _Wait:
    __slots__ = ("fd", "host", "port", "started", "cut")

    def __init__(self, fd: int, host: str, port: int, started: float) -> None:
        self.fd, self.host, self.port, self.started, self.cut = fd, host, port, started, False


class Watchdog:
    """Cuts the connections of waits that stalled on a server that no longer answers."""

    def __init__(self, *, stall: float = 1.0, probe_timeout: float = 1.0, tick: float = 0.1,
                 probe: Callable[[str, int, float], bool] = server_answers) -> None:
        self.stall, self.probe_timeout, self.tick, self._probe = stall, probe_timeout, tick, probe
        self._lock = threading.Lock()
        self._waits: dict[int, _Wait] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._silent: dict[tuple[str, int], float] = {}  # server → when it last failed to answer a probe
        self.cuts = 0  # connections cut so far (for tests and metrics)

    def silent(self, host: str, port: int, *, within: float = 1.0) -> bool:
        """True when the server failed a probe in the last `within` seconds (new connections fail fast)."""
        failed = self._silent.get((host, port))
        return failed is not None and time.monotonic() - failed < within

    def enter(self, fd: int, host: str, port: int) -> int:
        """Register a wait on a connection's socket; returns the token for `leave`."""
        token = next(self._ids)
        with self._lock:
            self._waits[token] = _Wait(fd, host, port, time.monotonic())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="revenant-db-watchdog", daemon=True)
                self._thread.start()
        return token

    def leave(self, token: int) -> None:
        """The wait ended (answered, failed or cut)."""
        with self._lock:
            self._waits.pop(token, None)

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            with self._lock:
                if not self._waits and now - idle_since > _IDLE_EXIT:
                    self._thread = None
                    return
                stalled = [w for w in self._waits.values() if not w.cut and now - w.started >= self.stall]
                if self._waits:
                    idle_since = now
            servers = {(w.host, w.port) for w in stalled}
            dead = {s for s in servers if not self._probe(s[0], s[1], self.probe_timeout)}
            for server in dead:
                self._silent[server] = time.monotonic()
            for wait in stalled:
                if (wait.host, wait.port) in dead:
                    self._cut(wait)

    def _cut(self, wait: _Wait) -> None:
        with self._lock:
            if wait.cut or wait not in self._waits.values():
                return  # answered meanwhile
            wait.cut = True
            try:
                sock = socket.socket(fileno=os.dup(wait.fd))
            except OSError:
                return
        with sock:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                return
        self.cuts += 1
        log.warning("PostgreSQL at %s:%s does not answer; cut a connection that waited %.1f s",
                    wait.host, wait.port, time.monotonic() - wait.started)


def watched_connection(watchdog: Watchdog) -> type[psycopg.Connection[Any]]:
    """A psycopg Connection class whose every wait for the server is registered with `watchdog`."""

    class WatchedConnection(psycopg.Connection[Any]):
        _server: tuple[str, int] | None = None  # host and port: read once (libpq calls), they never change

        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            server = self._server
            if server is None:
                info = self.info
                server = self._server = (info.host, info.port)
            token = watchdog.enter(self.pgconn.socket, *server)
            try:
                return super().wait(gen, interval, timeout)
            finally:
                watchdog.leave(token)

    return WatchedConnection
