"""PagerDuty V3 webhooks: incident.* events become signals keyed by the PagerDuty incident id.

Every event PagerDuty documents for V3 (developer-docs `docs/webhooks/01-Overview.md`) is answered 2xx:
PagerDuty drops a 4xx delivery without retrying, and repeated drops can disable the subscription.

Rule: triggered, unacknowledged and reopened → a firing alert; resolved → a resolved alert. Every other
incident.* event (acknowledged, annotated, status_update_published, responder.added/replied, reassigned,
priority_updated, escalated, delegated…) → a `change` signal with the incident's fingerprint: it attaches to
the incident as an update of its own kind and never opens one. Events whose `data` is not the incident itself
(notes, status updates, responder requests) carry the incident as `data.incident`. pagey.ping, non-incident
resources and events naming no incident → an update keyed only on its own event id: it joins and opens
nothing, and is recorded in the decision log with that reason (202).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.signals._common import (
    Context,
    build,
    expect_object,
    fail,
    json_type,
    opt_str,
    parse_time,
    safe_link,
)
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus

SOURCE = "pagerduty"
_ALERTS = frozenset({"incident.triggered", "incident.unacknowledged", "incident.reopened", "incident.resolved"})
_PRIORITY = {"p1": SignalSeverity.CRITICAL, "p2": SignalSeverity.ERROR, "p3": SignalSeverity.WARNING,
             "p4": SignalSeverity.INFO, "p5": SignalSeverity.INFO}
_URGENCY = {"high": SignalSeverity.CRITICAL, "low": SignalSeverity.WARNING}
_TEXT_LIMIT = 300


def _ref(data: dict[str, Any], key: str, at: str) -> tuple[str | None, str | None]:
    """(id, summary) of a reference object such as data.service or data.priority (null allowed)."""
    value = data.get(key)
    if value is None:
        return None, None
    ref = expect_object(value, f"{at}.{key}")
    return opt_str(ref, "id", f"{at}.{key}", ids=True), opt_str(ref, "summary", f"{at}.{key}")


def _incident_of(data: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(incident id, its title, its URL): `data` itself for incident events, else `data.incident`."""
    kind = opt_str(data, "type", "event.data")
    if "incident" in data and data["incident"] is not None:
        ref = expect_object(data["incident"], "event.data.incident")
        at = "event.data.incident"
        return (opt_str(ref, "id", at, ids=True), opt_str(ref, "summary", at), opt_str(ref, "html_url", at))
    if kind in (None, "incident"):
        return (opt_str(data, "id", "event.data", required=True, ids=True), opt_str(data, "title", "event.data"),
                opt_str(data, "html_url", "event.data"))
    return None, None, None


def _names(data: dict[str, Any], key: str) -> str:
    """Comma-joined summaries of a list of references (data.assignees), or ""."""
    items = data.get(key)
    if not isinstance(items, list):
        return ""
    return ", ".join(str(i["summary"]) for i in items if isinstance(i, dict) and isinstance(i.get("summary"), str))


def _clip(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def _update_title(event_type: str, data: dict[str, Any], title: str, agent: str | None, priority: str | None) -> str:
    """The line a responder reads for an update event (never "signal firing")."""
    by = f" by {agent}" if agent else ""
    what = event_type.removeprefix("incident.")
    if what == "annotated":
        return f"PagerDuty note{by}: {_clip(opt_str(data, 'content', 'event.data'))}"
    if what == "status_update_published":
        return f"PagerDuty status update{by}: {_clip(opt_str(data, 'message', 'event.data'))}"
    if what.startswith("responder."):
        _, user = _ref(data, "user", "event.data")
        state = opt_str(data, "state", "event.data")
        message = _clip(opt_str(data, "message", "event.data"))
        verb = "responder requested" if what == "responder.added" else "responder replied"
        return (f"PagerDuty {verb}: {user or 'someone'}" + (f" ({state})" if state else "")
                + (f" — {message}" if message else ""))
    if what == "acknowledged":
        return f"PagerDuty incident acknowledged{by}: {title}"
    if what == "priority_updated":
        return f"PagerDuty priority now {priority or 'none'}{by}: {title}"
    if what == "reassigned":
        assignees = _names(data, "assignees")
        return f"PagerDuty incident reassigned to {assignees or 'nobody'}{by}: {title}"
    return f"PagerDuty incident {what.replace('_', ' ').replace('.', ' ')}{by}: {title}"


def _unrelated(ctx: Context, body: dict[str, Any], event_type: str, event_id: str | None,
               occurred_at: datetime | None) -> Signal:
    """An event naming no incident (pagey.ping, service.*): an update whose only key is its own event, so
    it joins nothing and opens nothing, and the decision log records it with that reason."""
    data = body["event"].get("data")
    summary = None
    if isinstance(data, dict):
        summary = next((v for v in (data.get("summary"), data.get("message")) if isinstance(v, str) and v), None)
    return build(
        ctx, source=SOURCE, kind=SignalKind.CHANGE, status=SignalStatus.FIRING, severity=SignalSeverity.INFO,
        title=f"PagerDuty {event_type}" + (f": {_clip(summary)}" if summary else ""),
        description="PagerDuty event that names no incident: nothing to correlate",
        labels={"pagerduty_event": event_type}, fingerprint=f"pagerduty-event:{event_id or event_type}",
        starts_at=occurred_at, raw=body, delivery_extra=(event_type, event_id or ""),
    )


def normalize(payload: object, ctx: Context) -> list[Signal]:
    """PagerDuty V3 webhook payload → zero or one Signal."""
    body = expect_object(payload, "")
    if "event" not in body:
        raise fail("event", "is required (PagerDuty V3 webhooks wrap everything in an event object)")
    event = expect_object(body["event"], "event")
    event_type = opt_str(event, "event_type", "event", required=True) or ""
    resource_type = opt_str(event, "resource_type", "event") or "incident"
    event_id = opt_str(event, "id", "event", ids=True)
    occurred_at = parse_time(event.get("occurred_at"), "event.occurred_at")
    agent = event.get("agent")
    agent_name = opt_str(expect_object(agent, "event.agent"), "summary", "event.agent") if agent else None
    if resource_type != "incident" or not event_type.startswith("incident."):
        return [_unrelated(ctx, body, event_type, event_id, occurred_at)]
    if event.get("data") is None:
        raise fail("event.data", "is required")
    data = expect_object(event["data"], "event.data")
    incident_id, incident_title, html_url = _incident_of(data)
    if not incident_id:
        return [_unrelated(ctx, body, event_type, event_id, occurred_at)]
    number = data.get("number")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise fail("event.data.number", f"must be an integer, got {json_type(number)}")
    service_id, service = _ref(data, "service", "event.data")
    _, priority = _ref(data, "priority", "event.data")
    urgency = (opt_str(data, "urgency", "event.data") or "").lower()
    incident_key = opt_str(data, "incident_key", "event.data")
    title = incident_title or f"PagerDuty incident #{number or incident_id}"
    created_at = parse_time(data.get("created_at"), "event.data.created_at")
    opt_str(data, "status", "event.data")

    resolved = event_type == "incident.resolved"
    kind = SignalKind.ALERT if event_type in _ALERTS else SignalKind.CHANGE
    severity = _PRIORITY.get((priority or "").strip().lower()) or _URGENCY.get(urgency, SignalSeverity.WARNING)
    labels = {
        "service": service or "",
        "pagerduty_service_id": service_id or "",
        "pagerduty_incident_number": str(number) if number is not None else "",
        "pagerduty_event": event_type,
        "incident_key": incident_key or "",
        "urgency": urgency,
        "priority": priority or "",
    }
    what = event_type.removeprefix("incident.").replace("_", " ")
    description = f"PagerDuty: incident {what}" + (f" by {agent_name}" if agent_name else "")
    if kind is SignalKind.CHANGE:
        title = _update_title(event_type, data, title, agent_name, priority)
        severity = SignalSeverity.INFO if data.get("type") not in (None, "incident") else severity
    return [
        build(
            ctx, source=SOURCE, kind=kind, status=SignalStatus.RESOLVED if resolved else SignalStatus.FIRING,
            severity=severity, title=title, description=description,
            labels={k: v for k, v in labels.items() if v}, fingerprint=incident_id,
            starts_at=created_at or occurred_at, ends_at=occurred_at if resolved else None,
            links=[safe_link("PagerDuty incident", html_url)],
            raw=body, service=service,
            # Each PagerDuty event (an acknowledgement too) is news; a retry repeats the event id.
            delivery_extra=(event_type, event_id or ""),
        )
    ]
