"""POST /hooks/{source}: authenticate, validate at the edge, normalize, hand to the intake service."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from handlers.bulkhead import Bulkhead, Overloaded
from handlers.http_edge import BodyError, read_body
from handlers.rate_limit import FailureLimiter
from handlers.signals import SOURCES, SignalHandlerError, normalize
from incident_core.errors import ConcurrencyConflict, IncidentError, StoreUnavailable
from incident_core.ingest import IngestOutcome
from incident_core.raw_payloads import referencing
from incident_core.signals import Signal

log = logging.getLogger("revenant.webhooks")

MAX_BODY = 1024 * 1024
MAX_SIGNALS = 1000  # signals one delivery may carry: a bigger batch would hold the org's lane for minutes
JSON_TYPES = ("application/json",)
NO_SIGNAL = {
    "pagerduty": "nothing to correlate: a ping, a non-incident event (service.*), or an event naming no incident",
    "": "nothing to correlate: the delivery carries no alert",
}


class TokenOwner(Protocol):
    @property
    def org_id(self) -> str: ...

    @property
    def project_id(self) -> str | None: ...


class WebhookMetrics(Protocol):
    signals_received: Any
    signals_accepted: Any
    signals_rejected: Any
    incidents_opened: Any
    ingest_latency: Any


@dataclass(frozen=True)
class WebhookEndpoint:
    """Everything the route needs, injected by the composition root."""

    authenticate: Callable[[str], TokenOwner | None]
    intake: Callable[[str, list[Signal], str | None], list[IngestOutcome]]
    metrics: WebhookMetrics
    now: Callable[[], datetime]
    # The owner when a cache holds the token (no database read: it runs on the event loop), else None.
    authenticate_cached: Callable[[str], TokenOwner | None] = lambda _token: None
    bulkhead: Bulkhead = field(default_factory=Bulkhead)
    failures: FailureLimiter = field(default_factory=FailureLimiter)
    max_signals: int = MAX_SIGNALS
    # each metric's child per label values, looked up once (prometheus_client's labels() takes a lock and
    # validates the values on every call)
    _children: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict, init=False, repr=False)

    def register(self, app: web.Application) -> None:
        app.router.add_post("/hooks/{source}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        source = request.match_info["source"].lower()
        label = source if source in SOURCES else "unknown"
        started = time.perf_counter()
        self._child(self.metrics.signals_received, label).inc()
        try:
            response = await self._handle(request, source)
        except _Reject as rej:
            self._child(self.metrics.signals_rejected, label, rej.reason).inc()
            response = web.json_response(rej.body, status=rej.status, headers=rej.headers)
        self._child(self.metrics.ingest_latency, label).observe(time.perf_counter() - started)
        return response

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept (sources and reasons are few: the labels never grow without bound)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    async def _handle(self, request: web.Request, source: str) -> web.Response:
        if source not in SOURCES:
            raise _Reject(404, "unknown_source", {"error": f"unknown signal source {source[:60]!r}",
                                                  "known_sources": list(SOURCES)})
        owner = await self._authenticate(request)
        body = await _read_body(request)
        payload = _parse_json(body)
        received = self.now()
        try:
            # Normalizing and recording run in the org's lane of the bulkhead, off the event loop.
            outcomes = await self.bulkhead.run(owner.org_id, self._record, source, payload, owner, received)
        except _Reject:
            raise
        except Overloaded as exc:
            raise _Reject(429, "overloaded", {"error": str(exc), "concurrent_per_org": self.bulkhead.per_key},
                          {"Retry-After": str(exc.retry_after)}) from None
        except SignalHandlerError as exc:
            raise _Reject(getattr(exc, "status", 422), "invalid_payload", exc.as_dict()) from None
        except ConcurrencyConflict as exc:
            raise _Reject(503, "busy", {"error": str(exc)}, {"Retry-After": "1"}) from None
        except StoreUnavailable as exc:
            raise _unavailable(exc) from None
        except IncidentError as exc:
            raise _Reject(422, "rejected", {"error": str(exc)}) from None
        except Exception:
            raise _storage_failure(source) from None
        accepted = [o for o in outcomes if not o.duplicate]
        self._child(self.metrics.signals_accepted, source).inc(len(accepted))
        opened = sum(1 for o in outcomes if o.opened)
        if opened:
            self._child(self.metrics.incidents_opened, source).inc(opened)
        incident_ids = list(dict.fromkeys(o.human_id for o in outcomes if o.human_id))
        answer: dict[str, Any] = {
            "accepted": len(outcomes),
            "incident_ids": incident_ids,
            "signals": [{"fingerprint": o.fingerprint, "action": o.action.value, "incident_id": o.human_id,
                         "duplicate": o.duplicate, "reason": o.reason} for o in outcomes],
        }
        if not outcomes:
            answer["reason"] = NO_SIGNAL.get(source, NO_SIGNAL[""])
            log.info("%s delivery for org %s carried no signal: %s", source, owner.org_id, answer["reason"])
        return web.json_response(answer, status=202)

    def _record(self, source: str, payload: object, owner: TokenOwner, received: datetime) -> list[IngestOutcome]:
        signals = referencing(normalize(source, payload, org_id=owner.org_id, project_id=owner.project_id,
                                        received_at=received), payload)
        if len(signals) > self.max_signals:
            raise _Reject(413, "too_many_signals", {
                "error": f"this delivery carries {len(signals)} signals; the limit is {self.max_signals} per "
                         "request: split it into smaller deliveries (Alertmanager: max_alerts)",
                "limit": self.max_signals, "signals": len(signals)})
        return self.intake(owner.org_id, signals, owner.project_id)

    async def _authenticate(self, request: web.Request) -> TokenOwner:
        address = request.remote or "unknown"
        wait = self.failures.retry_after(address)
        if wait is not None:
            raise _Reject(429, "auth_rate_limited", {"error": "too many requests with a wrong or missing token from "
                                                     f"this address; wait {wait} s"}, {"Retry-After": str(wait)})
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.failures.failed(address)
            raise _Reject(401, "unauthenticated", {"error": "missing bearer token: send "
                                                   "`Authorization: Bearer <org webhook token>`"},
                          {"WWW-Authenticate": "Bearer"})
        token = token.strip()
        try:
            owner = self.authenticate_cached(token) or await asyncio.to_thread(self.authenticate, token)
        except StoreUnavailable as exc:
            raise _unavailable(exc) from None
        except Exception:
            raise _storage_failure("token lookup") from None
        if owner is None:
            self.failures.failed(address)
            raise _Reject(401, "bad_token", {"error": "invalid or expired webhook token; "
                                             "`revenant org token rotate ORG` issues a new one"},
                          {"WWW-Authenticate": "Bearer"})
        return owner


class _Reject(Exception):
    def __init__(self, status: int, reason: str, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status, self.reason, self.body, self.headers = status, reason, body, headers or {}


def _unavailable(exc: StoreUnavailable) -> _Reject:
    return _Reject(503, "unavailable", {"error": str(exc)}, {"Retry-After": str(exc.retry_after)})


def _storage_failure(what: str) -> _Reject:
    ref = uuid.uuid4().hex[:12]
    log.exception("webhook %s failed (ref %s)", what, ref)
    return _Reject(503, "storage", {"error": f"could not record the signals; retry later (ref {ref})"},
                   {"Retry-After": "5"})


async def _read_body(request: web.Request) -> bytes:
    ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES and not (ctype.startswith("application/") and ctype.endswith("+json")):
        raise _Reject(415, "content_type", {"error": f"Content-Type must be application/json, not "
                                            f"{ctype[:80] or 'missing'!r}"})
    try:
        return await read_body(request, limit=MAX_BODY)
    except BodyError as exc:
        reason = {413: "too_large", 408: "slow_body"}.get(exc.status, "unreadable")
        headers = {"Connection": "close"} if exc.close else None
        raise _Reject(exc.status, reason, {"error": exc.message + (" (1 MiB)" if exc.status == 413 else "")},
                      headers) from None


class _NonStandardJson(ValueError):
    """NaN, Infinity and -Infinity: Python accepts them, JSON (and PostgreSQL's jsonb) does not."""


def _reject_constant(name: str) -> object:
    raise _NonStandardJson(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NonStandardJson(f"{text[:40]} (out of range)")
    return value


def _parse_json(body: bytes) -> object:
    if not body.strip():
        raise _Reject(400, "malformed", {"error": "empty body: send a JSON object"})
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except _NonStandardJson as exc:
        raise _Reject(400, "malformed", {"error": f"malformed JSON: {exc} is not valid JSON (RFC 8259)"}) from None
    except UnicodeDecodeError:
        raise _Reject(400, "malformed", {"error": "body is not valid UTF-8 JSON"}) from None
    except json.JSONDecodeError as exc:
        raise _Reject(400, "malformed", {"error": f"malformed JSON: {exc.msg}", "line": exc.lineno,
                                         "column": exc.colno}) from None
    except RecursionError:
        raise _Reject(400, "malformed", {"error": "JSON nested too deeply"}) from None
    except ValueError as exc:  # e.g. integers too long to convert
        raise _Reject(400, "malformed", {"error": f"malformed JSON: {exc}"[:300]}) from None
