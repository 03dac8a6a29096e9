"""The Bot Connector's roster: the Teams account of a person the bot never heard from, asked once and bounded.

A mention needs a person's `29:` account, which arrives with their own activities. For someone assigned or
named who never wrote where the bot reads (a commander assigned by Entra object id, a responder a reminder
names), `GET /v3/conversations/{conversation}/members/{user}` (botbuilder's `TeamsInfo.get_member`) answers
for a Teams user id, a UPN or an Entra object id. What it finds is recorded by the caller (PeopleStore.note,
per org and tenant); what it does not find (404) is not asked again for `miss_ttl` seconds in this process.

Never for long: at most `max_lookups` people per message, all asked at once and given up together after
`timeout` seconds (the message then names them as before); a 429 pauses the tenant's lookups for its
Retry-After (at most `max_pause`), without a retry inside the reply. botframework's client sends through
`requests` in the loop's executor, where a cancelled lookup runs on: each request also carries `timeout`
(msrest passes it to `requests`), so an abandoned one ends soon too (msrest may retry a read timeout, at
most 3 times) instead of holding an `asyncio.run` (TeamsChat's posts) at its close for msrest's 100 s.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from handlers.teams.people import TeamsAccount, of_member

log = logging.getLogger("revenant.teams")


class MemberLookup(Protocol):
    """What the roster needs of botframework's ConnectorClient.conversations."""

    async def get_conversation_member(self, conversation_id: str, member_id: str, **operation_config: Any) -> Any:
        ...


class Roster:
    """Bounded roster lookups with a per-process memory of misses and of the tenant's rate-limit pauses.

    That memory only saves calls: a process without it asks again, which is still correct."""

    def __init__(self, *, timeout: float = 2.0, max_lookups: int = 5, miss_ttl: float = 3600.0,
                 max_pause: float = 300.0, clock: Callable[[], float] = time.monotonic, size: int = 10_000) -> None:
        self.timeout, self.max_lookups, self.miss_ttl, self.max_pause = timeout, max_lookups, miss_ttl, max_pause
        self.clock, self.size = clock, size
        self._misses: dict[tuple[str, str, str], float] = {}  # (org, tenant, user) → asked again after
        self._paused: dict[tuple[str, str], float] = {}  # (org, tenant) → no lookups before
        self._lock = threading.Lock()

    async def find(self, conversations: MemberLookup, conversation_id: str, org_id: str, tenant_id: str,
                   user_ids: Iterable[str]) -> list[TeamsAccount]:
        """The accounts the roster gives for these people (Entra object ids), within the bounds; never raises."""
        todo = self._due(org_id, tenant_id, user_ids)
        if not todo or not conversation_id:
            return []
        tasks = [asyncio.ensure_future(self._one(conversations, conversation_id, org_id, tenant_id, u)) for u in todo]
        done, pending = await asyncio.wait(tasks, timeout=self.timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.info("Teams roster: %d lookup(s) gave up after %.1fs; named instead", len(pending), self.timeout)
        return [a for task in done if not task.cancelled() and (a := task.result()) is not None]

    def _due(self, org_id: str, tenant_id: str, user_ids: Iterable[str]) -> list[str]:
        now = self.clock()
        with self._lock:
            if self._paused.get((org_id, tenant_id), 0.0) > now:
                return []
            wanted = sorted({u for u in user_ids if u and self._misses.get((org_id, tenant_id, u), 0.0) <= now})
            return wanted[:self.max_lookups]

    async def _one(self, conversations: MemberLookup, conversation_id: str, org_id: str, tenant_id: str,
                   user_id: str) -> TeamsAccount | None:
        try:
            member = await conversations.get_conversation_member(conversation_id, user_id, timeout=self.timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — a lookup never fails a reply: the person is named instead
            self._failed(org_id, tenant_id, user_id, exc)
            return None
        found = of_member(member)
        if found is None or found.user_id != user_id:  # not who was asked (or no `29:` account): nothing to keep
            self._miss(org_id, tenant_id, user_id)
            return None
        return found

    def _failed(self, org_id: str, tenant_id: str, user_id: str, exc: Exception) -> None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
        if status == 404:
            self._miss(org_id, tenant_id, user_id)
        elif status == 429:
            wait = _retry_after(response)
            with self._lock:
                self._paused[(org_id, tenant_id)] = self.clock() + min(self.max_pause, wait)
            log.info("Teams roster: rate limited for tenant %s; lookups paused %.0fs", tenant_id, wait)
        else:
            log.info("Teams roster: lookup of %s failed: %s", user_id, exc)

    def _miss(self, org_id: str, tenant_id: str, user_id: str) -> None:
        with self._lock:
            if len(self._misses) >= self.size:
                now = self.clock()
                self._misses = {k: v for k, v in self._misses.items() if v > now}
                if len(self._misses) >= self.size:
                    self._misses.clear()
            self._misses[(org_id, tenant_id, user_id)] = self.clock() + self.miss_ttl


def _retry_after(response: Any) -> float:
    """Retry-After in seconds (1 when absent or not a number)."""
    headers = getattr(response, "headers", None) or {}
    try:
        return max(1.0, float(headers.get("Retry-After") or 1))
    except (TypeError, ValueError):
        return 1.0
