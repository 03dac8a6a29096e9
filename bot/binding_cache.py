"""Which org a Slack workspace (or enterprise) belongs to, remembered briefly per process.

Every Slack request resolves its workspace before it can be acknowledged; the binding almost
never changes, so a hit answers without a database round trip. Only bindings found are kept
(a workspace linked a moment ago works at once), for `ttl` seconds: a workspace moved to another
org with `revenant org link-slack` is seen by every running process within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from storage.ttl_cache import TtlCache

DEFAULT_TTL = 10.0


class BindingCache:
    def __init__(self, lookup: Callable[[str], str | None], ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._known: TtlCache[str, str] = TtlCache(ttl, clock)

    def known(self, key: str) -> str | None:
        """The org bound to `key` if looked up within the last `ttl` seconds (no I/O)."""
        return self._known.get(key)

    def lookup(self, key: str) -> str | None:
        """Ask the database, and remember a binding it finds."""
        org_id = self._lookup(key)
        if org_id is None:
            self._known.pop(key)
        else:
            self._known.put(key, org_id)
        return org_id
