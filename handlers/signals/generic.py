"""The generic webhook: our own JSON schema (docs/signals.md) for alerts, plus OpenTelemetry log records.

Accepted bodies: one object, a list of objects, {"signals": [...]}, or an OTLP/JSON {"resourceLogs": [...]}.
An item with a `title` is a signal; an item without one but with OpenTelemetry fields (body,
severity_number, time_unix_nano, trace_id…) is a log record.
"""

from __future__ import annotations

from typing import Any

from handlers.signals._common import (
    Context,
    build,
    expect_list,
    expect_object,
    fail,
    join,
    json_type,
    number,
    opt_str,
    parse_time,
    safe_link,
    str_map,
)
from handlers.signals.otel import LOG_FIELDS, log_signal, otlp_signals
from incident_core.errors import ValidationError
from incident_core.signals import Link, Signal, SignalKind, SignalSeverity, SignalStatus

SOURCE = "generic"
_STATUS = {
    **dict.fromkeys(("firing", "triggered", "alerting", "active", "problem", "open"), SignalStatus.FIRING),
    **dict.fromkeys(("resolved", "ok", "recovered", "closed", "inactive", "normal"), SignalStatus.RESOLVED),
}


def _links(value: object, at: str) -> list[Link | None]:
    links: list[Link | None] = []
    for index, item in enumerate(expect_list(value, at) if value is not None else []):
        if isinstance(item, str):
            links.append(safe_link(item, item))
            continue
        entry = expect_object(item, f"{at}[{index}]")
        url = opt_str(entry, "url", f"{at}[{index}]", required=True)
        links.append(safe_link(opt_str(entry, "title", f"{at}[{index}]") or url or "", url))
    return links


def _values(item: dict[str, Any], at: str) -> list[tuple[str, float]]:
    found = []
    if item.get("value") is not None:
        found.append(("value", number(item["value"], join(at, "value"))))
    raw = item.get("values")
    if isinstance(raw, dict):
        found += [(name, number(v, f"{join(at, 'values')}.{name}")) for name, v in raw.items() if v is not None]
    elif raw is not None:
        for index, entry in enumerate(expect_list(raw, join(at, "values"))):
            entry_at = f"{join(at, 'values')}[{index}]"
            pair = expect_object(entry, entry_at)
            name = opt_str(pair, "name", entry_at, required=True) or ""
            found.append((name, number(pair.get("value"), join(entry_at, "value"))))
    return found


def _enum(item: dict[str, Any], key: str, at: str, table: dict[str, Any], default: Any) -> Any:
    text = opt_str(item, key, at)
    if text is None:
        return default
    found = table.get(text.strip().lower())
    if found is None:
        raise fail(join(at, key), f"must be one of {', '.join(sorted(set(map(str, table.values()))))}, "
                                  f"got {text[:40]!r}")
    return found


def _severity(item: dict[str, Any], at: str) -> SignalSeverity:
    text = opt_str(item, "severity", at)
    if text is None:
        return SignalSeverity.WARNING
    try:
        return SignalSeverity.parse(text)
    except ValidationError as exc:
        raise fail(join(at, "severity"), str(exc)) from None


def signal_item(value: object, at: str, ctx: Context) -> Signal:
    """One item of the generic schema (or a log record) → a Signal."""
    item = expect_object(value, at)
    if item.get("title") is None and LOG_FIELDS & item.keys():
        return log_signal(item, at, ctx)
    title = opt_str(item, "title", at, required=True) or ""
    status = _enum(item, "status", at, _STATUS, SignalStatus.FIRING)
    kind = _enum(item, "kind", at, {k.value: k for k in SignalKind}, SignalKind.ALERT)
    labels = str_map(item.get("labels"), join(at, "labels"), lenient=True)
    service = opt_str(item, "service", at)
    identity = {**labels, "service": service or ""} if labels else {"service": service or "", "title": title}
    return build(
        ctx, source=SOURCE, kind=kind, status=status, severity=_severity(item, at), title=title,
        description=opt_str(item, "description", at) or "", labels=labels,
        fingerprint=opt_str(item, "fingerprint", at, ids=True), identity=identity,
        starts_at=parse_time(item.get("starts_at"), join(at, "starts_at")),
        ends_at=parse_time(item.get("ends_at"), join(at, "ends_at")),
        links=_links(item.get("links"), join(at, "links")), values=_values(item, at), raw=item,
        service=service, alertname=opt_str(item, "alertname", at), trace_id=opt_str(item, "trace_id", at),
    )


def normalize(payload: object, ctx: Context) -> list[Signal]:
    """Generic webhook payload → Signals (see the module docstring for the accepted shapes)."""
    if isinstance(payload, list):
        return [signal_item(item, f"[{index}]", ctx) for index, item in enumerate(payload)]
    if not isinstance(payload, dict):
        raise fail("", f"must be a JSON object or array, got {json_type(payload)}")
    if "resourceLogs" in payload:
        return otlp_signals(payload, ctx)
    if "signals" in payload and "title" not in payload:
        items = expect_list(payload["signals"], "signals")
        return [signal_item(item, f"signals[{index}]", ctx) for index, item in enumerate(items)]
    return [signal_item(payload, "", ctx)]
