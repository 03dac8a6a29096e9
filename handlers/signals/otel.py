"""OpenTelemetry log records (flat snake_case/camelCase records and the OTLP/JSON resourceLogs batch)."""

from __future__ import annotations

import json
import re
from typing import Any

from handlers.signals._common import (
    SERVICE_LABELS,
    Context,
    build,
    expect_list,
    expect_object,
    fail,
    first_label,
    join,
    json_type,
    opt_str,
    parse_time,
    str_map,
)
from incident_core.signals import SEVERITY_ALIASES, Signal, SignalKind, SignalSeverity, SignalStatus

_VALUE_KEYS = ("stringValue", "intValue", "doubleValue", "boolValue", "arrayValue", "kvlistValue", "bytesValue")
# Fields that mark an item of the generic webhook as a log record rather than an alert.
LOG_FIELDS = frozenset({"body", "severity_text", "severityText", "severity_number", "severityNumber",
                        "time_unix_nano", "timeUnixNano", "trace_id", "traceId"})


def _pick(record: dict[str, Any], *names: str) -> tuple[str, Any]:
    """(name, value) of the first of `names` present in `record`; (names[0], None) if none is."""
    return next(((n, record[n]) for n in names if record.get(n) is not None), (names[0], None))


def any_value(value: object, at: str, depth: int = 0) -> object:
    """Decode an OTLP AnyValue ({"stringValue": …}, {"arrayValue": {"values": […]}}, …) to plain JSON."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _VALUE_KEYS:
        return value
    if depth > 8:
        return "…"
    (kind, inner), = value.items()
    if kind == "arrayValue":
        items = expect_list(expect_object(inner, f"{at}.arrayValue").get("values") or [], f"{at}.arrayValue.values")
        return [any_value(v, f"{at}.arrayValue.values[{i}]", depth + 1) for i, v in enumerate(items)]
    if kind == "kvlistValue":
        pairs = expect_object(inner, f"{at}.kvlistValue").get("values") or []
        return _kv_list(pairs, f"{at}.kvlistValue.values", depth + 1)
    return inner


def _kv_list(pairs: object, at: str, depth: int = 0) -> dict[str, object]:
    out: dict[str, object] = {}
    for index, pair in enumerate(expect_list(pairs, at)):
        entry = expect_object(pair, f"{at}[{index}]")
        key = opt_str(entry, "key", f"{at}[{index}]", required=True) or ""
        out[key] = any_value(entry.get("value"), f"{at}[{index}].value", depth)
    return out


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def attributes(value: object, at: str) -> dict[str, str]:
    """Attributes as a flat name→string map, from a JSON object or an OTLP [{key, value}] list."""
    if value is None:
        return {}
    if isinstance(value, list):
        return {k: _as_text(v) for k, v in _kv_list(value, at).items()}
    if isinstance(value, dict) and "attributes" in value:
        return attributes(value["attributes"], join(at, "attributes"))
    flat = expect_object(value, at)
    return str_map({k: v if isinstance(v, str | int | float | bool) else _as_text(v) for k, v in flat.items()},
                   at, lenient=True)


def otel_severity(number: object, text: str | None, at: str) -> SignalSeverity:
    """SeverityNumber 1–12 → info, 13–16 → warning, 17–20 → error, 21–24 → critical; else SeverityText; else info."""
    if isinstance(number, str):
        named = re.fullmatch(r"SEVERITY_NUMBER_([A-Z]+)\d?", number.strip())
        if not named and not number.strip().isdigit():
            raise fail(at, f"must be an integer from 1 to 24 or a SEVERITY_NUMBER_* name, got {number[:40]!r}")
        text = text or (named.group(1) if named else None)
        number = int(number) if not named else None
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise fail(at, f"must be an integer from 1 to 24, got {json_type(number)}")
    if isinstance(number, int) and 1 <= number <= 24:
        return [SignalSeverity.INFO, SignalSeverity.WARNING, SignalSeverity.ERROR, SignalSeverity.CRITICAL][
            max(0, (number - 9) // 4)
        ]
    word = re.sub(r"\d+$", "", (text or "").strip().lower())
    return SEVERITY_ALIASES.get(word, SignalSeverity.INFO)


def log_signal(record: object, at: str, ctx: Context, resource: dict[str, str] | None = None) -> Signal:
    """One OpenTelemetry log record (flat or OTLP/JSON field names) → a `log` Signal."""
    item = expect_object(record, at)
    labels = dict(resource or {})
    if item.get("resource") is not None:
        labels.update(attributes(item["resource"], join(at, "resource")))
    labels.update(attributes(item.get("attributes"), join(at, "attributes")))
    text_name, _ = _pick(item, "severity_text", "severityText")
    severity_text = opt_str(item, text_name, at)
    number_name, severity_number = _pick(item, "severity_number", "severityNumber")
    severity = otel_severity(severity_number, severity_text, join(at, number_name))
    body = _as_text(any_value(item.get("body"), join(at, "body")))
    event_name = opt_str(item, _pick(item, "event_name", "eventName")[0], at)
    trace_name, _ = _pick(item, "trace_id", "traceId")
    trace_id = (opt_str(item, trace_name, at) or "").lower() or None
    span_id = (opt_str(item, _pick(item, "span_id", "spanId")[0], at) or "").lower() or None
    when = parse_time(item.get("timestamp"), join(at, "timestamp"))
    for names in (("time_unix_nano", "timeUnixNano"), ("observed_time_unix_nano", "observedTimeUnixNano")):
        name, value = _pick(item, *names)
        when = when or parse_time(value, join(at, name), epoch_unit="ns")
    service = opt_str(item, "service", at) or first_label(labels, SERVICE_LABELS)
    for key, value in (("trace_id", trace_id), ("span_id", span_id), ("severity_text", severity_text)):
        if value:
            labels[key] = value
    first_line = body.strip().splitlines()[0] if body.strip() else ""
    title = first_line or event_name or "log record"
    identity = {"service": service or "", "event": event_name or first_line[:200], "severity": severity.value}
    return build(
        ctx, source="generic", kind=SignalKind.LOG, status=SignalStatus.FIRING, severity=severity,
        title=title, description=body if body.strip() != first_line else "", labels=labels,
        fingerprint=opt_str(item, "fingerprint", at), identity=identity, starts_at=when,
        raw=item, service=service, trace_id=trace_id,
    )


def otlp_signals(body: dict[str, Any], ctx: Context) -> list[Signal]:
    """An OTLP/JSON logs export request ({"resourceLogs": [...]}) → one Signal per log record."""
    signals = []
    for r_index, resource_logs in enumerate(expect_list(body["resourceLogs"], "resourceLogs")):
        r_at = f"resourceLogs[{r_index}]"
        entry = expect_object(resource_logs, r_at)
        resource = attributes(entry.get("resource"), f"{r_at}.resource")
        for s_index, scope_logs in enumerate(expect_list(entry.get("scopeLogs") or [], f"{r_at}.scopeLogs")):
            s_at = f"{r_at}.scopeLogs[{s_index}]"
            records = expect_object(scope_logs, s_at).get("logRecords") or []
            for l_index, record in enumerate(expect_list(records, f"{s_at}.logRecords")):
                signals.append(log_signal(record, f"{s_at}.logRecords[{l_index}]", ctx, resource))
    return signals
