"""Datadog webhook, in the JSON shape of our recommended template (docs/signals.md, DATADOG_TEMPLATE)."""

from __future__ import annotations

import re

from handlers.signals._common import (
    Context,
    build,
    expect_object,
    fail,
    number,
    opt_str,
    parse_time,
    safe_link,
    severity_from,
)
from incident_core.signals import Signal, SignalKind, SignalSeverity, SignalStatus, derive_fingerprint

SOURCE = "datadog"

# Paste into Datadog → Integrations → Webhooks → Payload. Every field is optional except that one of
# aggreg_key / alert_id / id and one of alert_title / event_title must carry a value.
DATADOG_TEMPLATE: dict[str, str] = {
    "id": "$ID",
    "aggreg_key": "$AGGREG_KEY",
    "alert_cycle_key": "$ALERT_CYCLE_KEY",
    "alert_id": "$ALERT_ID",
    "alert_metric": "$ALERT_METRIC",
    "alert_priority": "$ALERT_PRIORITY",
    "alert_query": "$ALERT_QUERY",
    "alert_scope": "$ALERT_SCOPE",
    "alert_status": "$ALERT_STATUS",
    "alert_title": "$ALERT_TITLE",
    "alert_transition": "$ALERT_TRANSITION",
    "alert_type": "$ALERT_TYPE",
    "date": "$DATE",
    "event_msg": "$EVENT_MSG",
    "event_title": "$EVENT_TITLE",
    "event_type": "$EVENT_TYPE",
    "hostname": "$HOSTNAME",
    "last_updated": "$LAST_UPDATED",
    "link": "$LINK",
    "org_id": "$ORG_ID",
    "org_name": "$ORG_NAME",
    "priority": "$PRIORITY",
    "snapshot": "$SNAPSHOT",
    "tags": "$TAGS",
    "user": "$USER",
}
_IDS = ("id", "aggreg_key", "alert_cycle_key", "alert_id", "org_id")
_PRIORITY = {"p1": SignalSeverity.CRITICAL, "p2": SignalSeverity.ERROR, "p3": SignalSeverity.WARNING,
             "p4": SignalSeverity.INFO, "p5": SignalSeverity.INFO}
_TYPE = {"error": SignalSeverity.ERROR, "warning": SignalSeverity.WARNING, "info": SignalSeverity.INFO,
         "success": SignalSeverity.INFO}
_TITLE_PREFIX = re.compile(r"^(\s*\[[^\]]*\]\s*)+")  # "[P1] [Triggered on {host:a}] CPU high" → "CPU high"


def parse_tags(text: str | None) -> dict[str, str]:
    """Datadog "k:v,k2:v2,bare" tags → labels (a bare tag maps to ""; repeated keys are joined by ",")."""
    labels: dict[str, str] = {}
    for tag in (text or "").split(","):
        tag = tag.strip()
        if not tag or tag.startswith("$"):
            continue
        key, _, value = tag.partition(":")
        key = key.strip()
        if key in labels and value and value not in labels[key].split(","):
            labels[key] = f"{labels[key]},{value}"
        else:
            labels.setdefault(key, value.strip())
    return labels


def _unset(value: str | None) -> str | None:
    """A template variable Datadog left unrendered ("$AGGREG_KEY") counts as missing."""
    return None if value is None or re.fullmatch(r"\$[A-Z_]+", value) else value


def normalize(payload: object, ctx: Context) -> list[Signal]:
    """Datadog webhook payload (our template) → one Signal."""
    body = expect_object(payload, "")
    fields = {key: _unset(opt_str(body, key, "", ids=key in _IDS)) for key in DATADOG_TEMPLATE}
    title = fields["alert_title"] or fields["event_title"]
    if not title:
        raise fail("alert_title", "is required (or event_title)")
    if not (fields["aggreg_key"] or fields["alert_id"] or fields["id"]):
        raise fail("aggreg_key", "one of aggreg_key, alert_id or id is required")
    transition = (fields["alert_transition"] or "").strip().lower()
    alert_type = (fields["alert_type"] or "").strip().lower()
    resolved = transition == "recovered" or (not transition and alert_type == "success")
    status = SignalStatus.RESOLVED if resolved else SignalStatus.FIRING
    priority = (fields["alert_priority"] or "").strip().lower()
    severity = _PRIORITY.get(priority) or _TYPE.get(alert_type) or severity_from(alert_type)
    labels = parse_tags(fields["tags"])
    labels.update(parse_tags(fields["alert_scope"]))
    if fields["hostname"]:
        labels.setdefault("host", fields["hostname"])
    for key in ("alert_id", "alert_metric", "event_type"):
        if fields[key]:
            labels[f"datadog_{key}"] = fields[key] or ""
    when = parse_time(fields["date"], "date", epoch_unit="ms")
    updated = parse_time(fields["last_updated"], "last_updated", epoch_unit="ms")
    monitor = fields["alert_id"]
    scope = fields["alert_scope"]
    fingerprint = fields["aggreg_key"] or (
        (derive_fingerprint(SOURCE, {"alert_id": monitor, "scope": scope}) if scope else monitor)
        if monitor else None
    )
    clean_title = _TITLE_PREFIX.sub("", title).strip() or title
    values = []
    if body.get("value") is not None:
        values.append((fields["alert_metric"] or "value", number(body["value"], "value")))
    return [
        build(
            ctx, source=SOURCE, kind=SignalKind.ALERT, status=status, severity=severity, title=clean_title,
            description=fields["event_msg"] or "", labels=labels, fingerprint=fingerprint,
            identity={"title": clean_title, **labels}, starts_at=when or updated,
            ends_at=(updated or when) if resolved else None,
            links=[safe_link("Datadog event", fields["link"]), safe_link("Snapshot", fields["snapshot"])],
            values=values, raw=body, alertname=f"datadog-monitor-{monitor}" if monitor else None,
        )
    ]
