"""POST /hooks/{source}: authenticate, validate at the edge, normalize, hand to the intake service."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from handlers.signals import SOURCES, SignalHandlerError, normalize
from incident_core.errors import ConcurrencyConflict, IncidentError
from incident_core.ingest import IngestOutcome
from incident_core.signals import Signal

log = logging.getLogger("revenant.webhooks")

MAX_BODY = 1024 * 1024
JSON_TYPES = ("application/json",)


class TokenOwner(Protocol):
    org_id: str
    project_id: str | None


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

    def register(self, app: web.Application) -> None:
        app.router.add_post("/hooks/{source}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        source = request.match_info["source"].lower()
        label = source if source in SOURCES else "unknown"
        started = time.perf_counter()
        self.metrics.signals_received.labels(label).inc()
        try:
            response = await self._handle(request, source)
        except _Reject as rej:
            self.metrics.signals_rejected.labels(label, rej.reason).inc()
            response = web.json_response(rej.body, status=rej.status, headers=rej.headers)
        self.metrics.ingest_latency.labels(label).observe(time.perf_counter() - started)
        return response

    async def _handle(self, request: web.Request, source: str) -> web.Response:
        if source not in SOURCES:
            raise _Reject(404, "unknown_source", {"error": f"unknown signal source {source[:60]!r}",
                                                  "known_sources": list(SOURCES)})
        owner = await self._authenticate(request)
        body = await _read_body(request)
        payload = _parse_json(body)
        try:
            signals = normalize(source, payload, org_id=owner.org_id, project_id=owner.project_id,
                                received_at=self.now())
        except SignalHandlerError as exc:
            raise _Reject(getattr(exc, "status", 422), "invalid_payload", exc.as_dict()) from None
        try:
            outcomes = await asyncio.to_thread(self.intake, owner.org_id, signals, owner.project_id)
        except ConcurrencyConflict as exc:
            raise _Reject(503, "busy", {"error": str(exc)}, {"Retry-After": "1"}) from None
        except IncidentError as exc:
            raise _Reject(422, "rejected", {"error": str(exc)}) from None
        except Exception:
            ref = uuid.uuid4().hex[:12]
            log.exception("webhook %s failed (ref %s)", source, ref)
            raise _Reject(503, "storage", {"error": f"could not record the signals; retry later (ref {ref})"},
                          {"Retry-After": "5"}) from None
        accepted = [o for o in outcomes if not o.duplicate]
        self.metrics.signals_accepted.labels(source).inc(len(accepted))
        opened = sum(1 for o in outcomes if o.opened)
        if opened:
            self.metrics.incidents_opened.labels(source).inc(opened)
        incident_ids = list(dict.fromkeys(o.human_id for o in outcomes if o.human_id))
        return web.json_response({
            "accepted": len(outcomes),
            "incident_ids": incident_ids,
            "signals": [{"fingerprint": o.fingerprint, "action": o.action.value, "incident_id": o.human_id,
                         "duplicate": o.duplicate, "reason": o.reason} for o in outcomes],
        }, status=202)

    async def _authenticate(self, request: web.Request) -> TokenOwner:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Reject(401, "unauthenticated", {"error": "missing bearer token: send "
                                                   "`Authorization: Bearer <org webhook token>`"},
                          {"WWW-Authenticate": "Bearer"})
        owner = await asyncio.to_thread(self.authenticate, token.strip())
        if owner is None:
            raise _Reject(401, "bad_token", {"error": "invalid or expired webhook token; "
                                             "`revenant org token rotate ORG` issues a new one"},
                          {"WWW-Authenticate": "Bearer"})
        return owner


class _Reject(Exception):
    def __init__(self, status: int, reason: str, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status, self.reason, self.body, self.headers = status, reason, body, headers or {}


async def _read_body(request: web.Request) -> bytes:
    ctype = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES and not (ctype.startswith("application/") and ctype.endswith("+json")):
        raise _Reject(415, "content_type", {"error": f"Content-Type must be application/json, not "
                                            f"{ctype[:80] or 'missing'!r}"})
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _Reject(413, "too_large", {"error": f"body is {request.content_length} bytes; the limit is "
                                         f"{MAX_BODY} bytes (1 MiB)"})
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise _Reject(413, "too_large", {"error": f"body exceeds the limit of {MAX_BODY} bytes (1 MiB)"})
        chunks.append(chunk)
    return b"".join(chunks)


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
