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
_RECOVERED = re.compile(r"^\s*(\[[^\]]*\]\s*)*\[\s*Recovered\b", re.IGNORECASE)
# Datadog's default payload (no custom template) names three fields differently from our template.
_DEFAULT_ALIASES = {"title": "event_title", "body": "event_msg", "host_name": "hostname"}


def parse_tags(text: str | None, into: dict[str, str] | None = None) -> dict[str, str]:
    """Datadog "k:v,k2:v2,bare" tags → labels (a bare tag maps to ""); a key seen again, here or already in
    `into` (`$TAGS` then `$ALERT_SCOPE`), joins its distinct values with ","."""
    labels: dict[str, str] = {} if into is None else into
    for tag in (text or "").split(","):
        tag = tag.strip()
        if not tag or tag.startswith("$"):
            continue
        key, _, value = tag.partition(":")
        key, value = key.strip(), value.strip()
        known = labels.get(key)
        if known is None or not known:
            labels[key] = value
        elif value and value not in known.split(","):
            labels[key] = f"{known},{value}"
    return labels


def _unset(value: str | None) -> str | None:
    """A template variable Datadog left unrendered ("$AGGREG_KEY") counts as missing."""
    return None if value is None or re.fullmatch(r"\$[A-Z_]+", value) else value


def normalize(payload: object, ctx: Context) -> list[Signal]:
    """Datadog webhook payload (our template) → one Signal."""
    body = expect_object(payload, "")
    fields = {key: _unset(opt_str(body, key, "", ids=key in _IDS)) for key in DATADOG_TEMPLATE}
    for alias, key in _DEFAULT_ALIASES.items():
        fields[key] = fields[key] or _unset(opt_str(body, alias, ""))
    if body.get("org") is not None:
        org = expect_object(body["org"], "org")
        fields["org_id"] = fields["org_id"] or _unset(opt_str(org, "id", "org", ids=True))
        fields["org_name"] = fields["org_name"] or _unset(opt_str(org, "name", "org"))
    title = fields["alert_title"] or fields["event_title"]
    if not title:
        raise fail("alert_title", "is required (or event_title, or title in Datadog's default payload)")
    if not (fields["aggreg_key"] or fields["alert_id"] or fields["id"]):
        raise fail("aggreg_key", "one of aggreg_key, alert_id or id is required")
    transition = (fields["alert_transition"] or "").strip().lower()
    alert_type = (fields["alert_type"] or "").strip().lower()
    resolved = transition == "recovered" or (not transition and (
        alert_type == "success" or bool(_RECOVERED.match(fields["event_title"] or ""))))
    status = SignalStatus.RESOLVED if resolved else SignalStatus.FIRING
    priority = (fields["alert_priority"] or "").strip().lower()
    severity = _PRIORITY.get(priority) or _TYPE.get(alert_type) or severity_from(alert_type)
    labels = parse_tags(fields["alert_scope"], parse_tags(fields["tags"]))
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
