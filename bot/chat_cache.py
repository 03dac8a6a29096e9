"""Each org's outbound chat adapter, kept per process instead of rebuilt (bindings and bot token read from the
database) for every delivered message.

An entry lives `ttl` seconds: a binding moved, a token rotated or an app uninstalled by another process
(`revenant org link-slack`, an OAuth install served by another web process) is seen within that time. A write
made by this process (`ChatChanges.changed`, called by the directory's binding writes and the installation
store) retires every entry at once, and an adapter whose token Slack refuses is dropped by the adapter
(`drop`), so a revoked token is never used again after its first refusal. Entries are keyed by org id only:
one org's adapter is never handed to another.

"No adapter" (an org without the platform bound, or without a usable token) is not kept: it is read again at
every `get`, one indexed read of the org's bindings. Kept, it stood for up to `ttl` after another process linked
the org, and the org's first incidents in that window opened no room (a room opens at an incident's change:
the next one might come much later). Orgs that are bound, the common case, still read nothing per message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from storage.directory import SqlDirectory
from storage.ttl_cache import TtlCache

DEFAULT_TTL = 5.0
T = TypeVar("T")


class ChatChanges:
    """This process's writes to platform bindings and chat installations, counted: an entry cached before
    the latest write is not used after it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        return self._generation

    def changed(self) -> None:
        """A binding or installation was written by this process."""
        with self._lock:
            self._generation += 1


class ChatCache(Generic[T]):
    """`get(org)` answers `build(org)` (an adapter, or None for an org without the platform) from memory while
    the entry is younger than `ttl` and no write of this process came after it was built; None is built again
    at every `get` (another process may link the org at any moment)."""

    def __init__(self, build: Callable[[str], T | None], changes: ChatChanges, *, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._build = build
        self._changes = changes
        self._items: TtlCache[str, tuple[T | None, int]] = TtlCache(ttl, clock)

    def get(self, org_id: str) -> T | None:
        generation = self._changes.generation  # read before building: a write during the build retires it
        entry = self._items.get(org_id)
        if entry is not None and entry[1] == generation:
            return entry[0]
        value = self._build(org_id)
        if value is None:
            self._items.pop(org_id)
        else:
            self._items.put(org_id, (value, generation))
        return value

    def drop(self, org_id: str) -> None:
        """Forget the org's entry (its token was refused): the next `get` reads the database."""
        self._items.pop(org_id)


class WatchedDirectory(SqlDirectory):
    """The directory, telling `changes` about every binding it writes (chat adapters follow at once)."""

    def __init__(self, engine: Any, *, changes: ChatChanges, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self.changes = changes

    def bind(self, platform: str, external_id: str, org_id: str, *, move: bool = False) -> None:
        try:
            super().bind(platform, external_id, org_id, move=move)
        finally:
            self.changes.changed()

    def unbind(self, platform: str, external_id: str) -> None:
        try:
            super().unbind(platform, external_id)
        finally:
            self.changes.changed()

    def forget_org(self, org_id: str) -> None:
        try:
            super().forget_org(org_id)
        finally:
            self.changes.changed()
