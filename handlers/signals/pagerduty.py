"""PagerDuty V3 webhooks: incident.* events become signals keyed by the PagerDuty incident id.

Rule: triggered, unacknowledged, reopened and acknowledged → a firing alert (an acknowledgement keeps it
firing); resolved → a resolved alert; any other incident.* event (escalated, reassigned, priority_updated,
annotated, responder.added…) → a `change` signal with the same fingerprint, so it can attach to the
incident but never opens one. pagey.ping and non-incident resources → no signal at all.
"""

from __future__ import annotations

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
_FIRING = frozenset({"incident.triggered", "incident.acknowledged", "incident.unacknowledged", "incident.reopened"})
_PRIORITY = {"p1": SignalSeverity.CRITICAL, "p2": SignalSeverity.ERROR, "p3": SignalSeverity.WARNING,
             "p4": SignalSeverity.INFO, "p5": SignalSeverity.INFO}
_URGENCY = {"high": SignalSeverity.CRITICAL, "low": SignalSeverity.WARNING}


def _summary(data: dict[str, object], key: str, at: str) -> tuple[str | None, str | None]:
    """(id, summary) of a reference object such as data.service or data.priority (null allowed)."""
    value = data.get(key)
    if value is None:
        return None, None
    ref = expect_object(value, f"{at}.{key}")
    return opt_str(ref, "id", f"{at}.{key}", ids=True), opt_str(ref, "summary", f"{at}.{key}")


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
        return []
    if "data" not in event:
        raise fail("event.data", "is required")
    data = expect_object(event["data"], "event.data")
    incident_id = opt_str(data, "id", "event.data", required=True, ids=True) or ""
    number = data.get("number")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise fail("event.data.number", f"must be an integer, got {json_type(number)}")
    service_id, service = _summary(data, "service", "event.data")
    _, priority = _summary(data, "priority", "event.data")
    urgency = (opt_str(data, "urgency", "event.data") or "").lower()
    incident_key = opt_str(data, "incident_key", "event.data")
    title = opt_str(data, "title", "event.data") or f"PagerDuty incident #{number or incident_id}"
    created_at = parse_time(data.get("created_at"), "event.data.created_at")
    opt_str(data, "status", "event.data")

    resolved = event_type == "incident.resolved"
    kind = SignalKind.ALERT if resolved or event_type in _FIRING else SignalKind.CHANGE
    severity = _PRIORITY.get((priority or "").strip().lower()) or _URGENCY.get(urgency, SignalSeverity.WARNING)
    labels = {
        "service": service or "",
        "pagerduty_service_id": service_id or "",
        "pagerduty_incident_number": str(number) if number is not None else "",
        "incident_key": incident_key or "",
        "urgency": urgency,
        "priority": priority or "",
    }
    what = event_type.removeprefix("incident.").replace("_", " ")
    description = f"PagerDuty: incident {what}" + (f" by {agent_name}" if agent_name else "")
    if kind is SignalKind.CHANGE:
        title = f"PagerDuty incident {what}: {title}"
    return [
        build(
            ctx, source=SOURCE, kind=kind, status=SignalStatus.RESOLVED if resolved else SignalStatus.FIRING,
            severity=severity, title=title, description=description,
            labels={k: v for k, v in labels.items() if v}, fingerprint=incident_id,
            starts_at=created_at or occurred_at, ends_at=occurred_at if resolved else None,
            links=[safe_link("PagerDuty incident", opt_str(data, "html_url", "event.data"))],
            raw=body, service=service,
            # Each PagerDuty event (an acknowledgement too) is news; a retry repeats the event id.
            delivery_extra=(event_type, event_id or ""),
        )
    ]
