"""Prometheus Alertmanager webhook (version 4): one Signal per alert of the notification group."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from handlers.signals._common import (
    Context,
    alert_title,
    build,
    expect_list,
    expect_object,
    fail,
    join,
    json_type,
    opt_str,
    parse_time,
    safe_link,
    severity_from,
    str_map,
)
from incident_core.signals import Link, Signal, SignalKind, SignalStatus, sender_group

SOURCE = "alertmanager"
# Per-alert extras a dialect (Grafana) adds: links and numeric values read from the alert object.
Extras = Callable[[dict[str, Any], str], tuple[list[Link | None], list[tuple[str, float]]]]


@dataclass(frozen=True)
class Group:
    """The notification-level fields every alert of the group shares."""

    status: str | None
    external_url: str | None
    truncated: int
    title: str | None
    group: str | None = None  # the sender's notification group, hashed (correlation key sender_group=…)


def read_group(body: dict[str, Any], source: str = "alertmanager") -> Group:
    """Check the top-level fields of an Alertmanager-shaped notification."""
    version = body.get("version")
    if version is not None and not isinstance(version, str):
        raise fail("version", f"must be a string such as \"4\", got {json_type(version)}")
    truncated = body.get("truncatedAlerts", 0)
    if truncated is None:
        truncated = 0
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise fail("truncatedAlerts", "must be a non-negative integer")
    str_map(body.get("commonLabels"), "commonLabels")
    str_map(body.get("commonAnnotations"), "commonAnnotations")
    str_map(body.get("groupLabels"), "groupLabels")
    return Group(
        status=opt_str(body, "status", ""),
        external_url=opt_str(body, "externalURL", ""),
        truncated=truncated,
        title=opt_str(body, "title", ""),
        group=sender_group(source, opt_str(body, "groupKey", ""), opt_str(body, "receiver", "")),
    )


def read_status(value: str | None, at: str) -> SignalStatus:
    """firing or resolved, else a 422."""
    if value is None:
        raise fail(at, "is required (firing or resolved)")
    try:
        return SignalStatus(value.strip().lower())
    except ValueError:
        raise fail(at, f"must be firing or resolved, got {value[:40]!r}") from None


def alert_signal(
    item: object, at: str, ctx: Context, group: Group, *, source: str = SOURCE, extras: Extras | None = None
) -> Signal:
    """Normalize one entry of `alerts[]`."""
    alert = expect_object(item, at)
    if "labels" not in alert:
        raise fail(join(at, "labels"), "is required")
    labels = str_map(alert.get("labels"), join(at, "labels"))
    annotations = str_map(alert.get("annotations"), join(at, "annotations"))
    status = read_status(opt_str(alert, "status", at) or group.status, join(at, "status"))
    starts_at = parse_time(alert.get("startsAt"), join(at, "startsAt"))
    ends_at = parse_time(alert.get("endsAt"), join(at, "endsAt"))
    generator = opt_str(alert, "generatorURL", at)
    fingerprint = opt_str(alert, "fingerprint", at)
    alertname = labels.get("alertname")
    title = alert_title(alertname, annotations.get("summary") or annotations.get("title"), labels, group.title or "")
    description = annotations.get("description") or annotations.get("message") or ""
    if group.truncated:
        note = f"Alertmanager left {group.truncated} more alert(s) out of this notification (max_alerts)."
        description = f"{description}\n\n{note}".strip()
    links: list[Link | None] = [
        safe_link("Source", generator),
        safe_link("Runbook", annotations.get("runbook_url") or annotations.get("runbook")),
        safe_link("Dashboard", annotations.get("dashboard_url") or annotations.get("dashboard")),
    ]
    values: list[tuple[str, float]] = []
    if extras is not None:
        more_links, values = extras(alert, at)
        links.extend(more_links)
    links.append(safe_link("Alertmanager" if source == SOURCE else "Alerting", group.external_url))
    return build(
        ctx, source=source, kind=SignalKind.ALERT, status=status,
        severity=severity_from(labels.get("severity")), title=title, description=description,
        labels=labels, fingerprint=fingerprint, starts_at=starts_at, ends_at=ends_at,
        links=links, values=values, raw=alert, alertname=alertname, group=group.group,
    )


def normalize_group(
    payload: object, ctx: Context, *, source: str = SOURCE, extras: Extras | None = None
) -> list[Signal]:
    """Normalize an Alertmanager-shaped notification (also the base of Grafana's)."""
    body = expect_object(payload, "")
    group = read_group(body, source)
    if "alerts" not in body:
        raise fail("alerts", "is required")
    alerts = expect_list(body["alerts"], "alerts")
    return [
        alert_signal(item, f"alerts[{index}]", ctx, group, source=source, extras=extras)
        for index, item in enumerate(alerts)
    ]


def normalize(payload: object, ctx: Context) -> list[Signal]:
    """Alertmanager webhook payload → one Signal per alert."""
    return normalize_group(payload, ctx)
