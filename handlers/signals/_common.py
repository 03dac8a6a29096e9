"""Shape checks and the shared Signal builder used by every source normalizer."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.signals.errors import PayloadError
from incident_core.richtext import safe_url
from incident_core.signals import (
    DESCRIPTION_LIMIT,
    LABEL_VALUE_LIMIT,
    SEVERITY_ALIASES,
    TITLE_LIMIT,
    Link,
    MetricValue,
    Signal,
    SignalKind,
    SignalSeverity,
    SignalStatus,
    as_utc,
    correlation_keys_for,
    delivery_key_for,
    derive_fingerprint,
    finite_values,
    truncate,
)

MAX_LABELS = 100
SERVICE_LABELS = ("service", "service.name", "service_name", "app", "app.kubernetes.io/name",
                  "app_kubernetes_io_name", "application")
TRACE_LABELS = ("trace_id", "traceId", "trace.id", "traceid")
CLUSTER_LABELS = ("cluster", "k8s.cluster.name", "kube_cluster_name", "cluster_name")
NAMESPACE_LABELS = ("namespace", "k8s.namespace.name", "kube_namespace", "exported_namespace")
WORKLOAD_LABELS = ("pod", "k8s.pod.name", "deployment", "statefulset", "daemonset", "job_name", "instance")
# Cluster exporters report on other objects: on their series, Prometheus Operator's target labels
# (`service`, `job`, and for kube-state-metrics also `pod`/`container`) name the exporter, not the subject,
# e.g. service="prometheus-kube-state-metrics" on every namespace's KubePodCrashLooping.
EXPORTERS = ("kube-state-metrics", "node-exporter", "kubelet", "cadvisor", "blackbox-exporter")
_SCRAPE_TARGET_LABELS = ("service", "pod", "container")
_EXPORTER = re.compile("|".join(re.escape(name) for name in EXPORTERS))  # any of them within a label value
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO_TIME = re.compile(r"^0001-01-01T00:00:00(\.0+)?(Z|[+-]00:00)?$")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_NUMERIC = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class Context:
    """Who the signals belong to and when the webhook arrived (fallback for missing timestamps)."""

    org_id: str
    project_id: str | None
    received_at: datetime


def fail(at: str, message: str) -> PayloadError:
    """A 422 PayloadError naming the JSON path `at`."""
    return PayloadError(422, at, message)


def join(at: str, key: str | int) -> str:
    """The JSON path of `key` below `at` (alerts + 0 → alerts[0], alerts[0] + labels → alerts[0].labels)."""
    if isinstance(key, int):
        return f"{at}[{key}]"
    return f"{at}.{key}" if at else key


def clean(text: str) -> str:
    """Drop NUL characters and lone surrogates, which no database or chat platform accepts (removed, not
    replaced: "a\ud800b" and "a\udfffb" must not both become "a?b" and share a fingerprint)."""
    if text.isascii():  # the usual label or name: no surrogate can be in it, only NUL needs looking for
        return text.replace("\x00", "") if "\x00" in text else text
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "ignore").decode("utf-8")
    return text


def expect_object(value: object, at: str) -> dict[str, Any]:
    """`value` if it is a JSON object, else a 422."""
    if not isinstance(value, dict):
        raise fail(at, f"must be a JSON object, got {json_type(value)}")
    return value


def expect_list(value: object, at: str) -> list[Any]:
    """`value` if it is a JSON array, else a 422."""
    if not isinstance(value, list):
        raise fail(at, f"must be a JSON array, got {json_type(value)}")
    return value


def json_type(value: object) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def opt_str(obj: Mapping[str, Any], key: str, at: str, *, required: bool = False, ids: bool = False) -> str | None:
    """obj[key] as a cleaned string; missing/null/"" → None (or a 422 when required); ids also accept integers."""
    value = obj.get(key)
    if ids and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or value == "":
        if required:
            raise fail(join(at, key), "is required" if value is None else "must not be empty")
        return None
    if not isinstance(value, str):
        raise fail(join(at, key), f"must be a string, got {json_type(value)}")
    return clean(value)


def str_map(value: object, at: str, *, lenient: bool = False) -> dict[str, str]:
    """A JSON object of string values (lenient: numbers and booleans are turned into strings)."""
    if value is None:
        return {}
    if type(value) is dict:
        # The usual map (every key and value an ASCII string without NUL) is already clean: one copy, no loop.
        # Anything else (a number, a non-ASCII or NUL-bearing text) takes the loop below and its checks.
        try:
            text = "".join(value) + "".join(value.values())
        except TypeError:
            text = "\x00"
        if text.isascii() and "\x00" not in text:
            return dict(value)
    out: dict[str, str] = {}
    for name, item in expect_object(value, at).items():
        if isinstance(item, bool) and lenient:
            item = "true" if item else "false"
        elif isinstance(item, int | float) and not isinstance(item, bool) and lenient:
            item = str(item)
        if not isinstance(item, str):
            kinds = "a string, number or boolean" if lenient else "a string"
            raise fail(f"{at}.{name}", f"must be {kinds}, got {json_type(item)}")
        out[clean(name)] = clean(item)
    return out


def parse_time(value: object, at: str, *, epoch_unit: str | None = None) -> datetime | None:
    """An RFC 3339 string or epoch number as UTC; None for null, "" and Go's zero time 0001-01-01T00:00:00Z."""
    if isinstance(value, bool):
        raise fail(at, "must be an RFC 3339 timestamp string or an epoch number, got a boolean")
    if value is None or value == "" or value == 0 or value == "0":
        return None
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        value = float(value) if "." in value else int(value)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _from_epoch(float(value) if isinstance(value, float) else value, epoch_unit)
        if isinstance(value, str):
            text = value.strip()
            if _ZERO_TIME.match(text):
                return None
            text = text.replace("z", "Z").replace(" ", "T", 1)
            if "." in text:  # only a fraction can be longer than the microseconds datetime keeps
                text = _FRACTION.sub(r"\1", text)
            return as_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError, ArithmeticError):
        raise fail(at, f"is not a valid timestamp: {str(value)[:60]!r}") from None
    raise fail(at, f"must be an RFC 3339 timestamp string or an epoch number, got {json_type(value)}")


def _from_epoch(number: int | float, unit: str | None) -> datetime:
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("not finite")
    if unit is None:  # guess by magnitude: seconds until year 5138, then ms, µs, ns
        size = abs(number)
        unit = "s" if size < 1e11 else "ms" if size < 1e14 else "us" if size < 1e17 else "ns"
    divisor = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    if isinstance(number, int):
        seconds, rest = divmod(number, divisor)
        return _EPOCH + timedelta(seconds=seconds, microseconds=rest * 10**6 // divisor)
    return _EPOCH + timedelta(seconds=number / divisor)


def number(value: object, at: str) -> float:
    """A finite JSON number (numeric strings accepted), else a 422."""
    if isinstance(value, str):
        text = value
        try:
            value = float(text)
        except ValueError:
            raise fail(at, f"must be a number, got the string {text[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(at, f"must be a number, got {json_type(value)}")
    try:
        result = float(value)
    except OverflowError:
        raise fail(at, "is too large a number") from None
    if not math.isfinite(result):
        raise fail(at, "must be a finite number")
    return result


@functools.lru_cache(maxsize=4096)  # a sender repeats its few URLs (externalURL, generatorURL) in every alert
def safe_link(title: str, url: str | None) -> Link | None:
    """A Link if `url` is an absolute http(s) URL to a real host without credentials; others are dropped."""
    safe = safe_url(url)
    return Link(truncate(title, 100), safe) if safe else None


def severity_from(text: str | None, default: SignalSeverity = SignalSeverity.WARNING) -> SignalSeverity:
    """Map a free-text severity (critical, page, high, warn, none, p2, sev3…) to the scale, else `default`."""
    if not text:
        return default
    return SEVERITY_ALIASES.get(text.strip().lower(), default)


def first_label(labels: Mapping[str, str], names: Iterable[str]) -> str | None:
    """The value of the first of `names` present (and non-empty) in `labels`."""
    for name in names:
        value = labels.get(name)
        if value:
            return value
    return None


def subject_labels(labels: Mapping[str, str]) -> Mapping[str, str]:
    """The labels that describe what the alert is about: when a cluster exporter was scraped (its name in
    `job` or `service`), its own service, pod and container labels are left out."""
    def exporter(value: str) -> bool:
        return _EXPORTER.search(value) is not None

    if not (exporter(labels.get("job", "")) or exporter(labels.get("service", ""))):
        return labels
    return {k: v for k, v in labels.items() if not (k in _SCRAPE_TARGET_LABELS and exporter(v))}


def alert_title(alertname: str | None, summary: str | None, labels: Mapping[str, str], fallback: str) -> str:
    """`KubePodCrashLooping — Pod is crash looping (shop/checkout-7d9f)`: the alert name, then the summary
    (one trailing period dropped), then the scoping labels (namespace / workload), each only when it adds."""
    name = (alertname or "").strip()
    summary = (summary or "").strip()
    if summary.endswith(".") and not summary.endswith(".."):
        summary = summary[:-1].rstrip()
    if name and summary and summary.casefold() != name.casefold():
        text = f"{name} — {summary}"
    else:
        text = name or summary or fallback
    subject = subject_labels(labels)
    scope = "/".join(v for v in (first_label(subject, NAMESPACE_LABELS), first_label(subject, WORKLOAD_LABELS)) if v)
    if scope and scope not in text:
        text = f"{text} ({scope})"
    return text


def build(
    ctx: Context, *, source: str, kind: SignalKind, status: SignalStatus, severity: SignalSeverity,
    title: str, description: str = "", labels: Mapping[str, str], fingerprint: str | None,
    identity: Mapping[str, str] | None = None, starts_at: datetime | None, ends_at: datetime | None = None,
    links: Iterable[Link | None] = (), values: Iterable[tuple[str, float]] = (), raw: Mapping[str, Any],
    service: str | None = None, alertname: str | None = None, trace_id: str | None = None,
    delivery_extra: tuple[str, ...] = (), group: str | None = None,
) -> Signal:
    """Assemble a Signal: limits, fingerprint fallback, correlation keys and delivery key in one place."""
    kept = {clean(k)[:256]: truncate(clean(v), LABEL_VALUE_LIMIT) for k, v in sorted(labels.items())[:MAX_LABELS]}
    service = service or first_label(subject_labels(kept), SERVICE_LABELS)
    alertname = alertname or kept.get("alertname")
    trace_id = (trace_id or first_label(kept, TRACE_LABELS) or "").lower() or None
    fingerprint = clean(fingerprint or "") or derive_fingerprint(source, kept if identity is None else identity)
    if len(fingerprint) > 128:
        fingerprint = derive_fingerprint(source, {"fingerprint": fingerprint})
    starts = starts_at or as_utc(ctx.received_at)
    if ends_at is not None and status is SignalStatus.FIRING:
        ends_at = None  # a firing alert's endsAt is only the sender's guess of its expiry
    keys = correlation_keys_for(
        fingerprint=fingerprint, service=service, alertname=alertname, trace_id=trace_id,
        cluster=first_label(kept, CLUSTER_LABELS), namespace=first_label(kept, NAMESPACE_LABELS), group=group,
    )
    return Signal(
        org_id=ctx.org_id, project_id=ctx.project_id, source=source, kind=kind, status=status,
        severity=severity, service=truncate(service, 200) if service else None,
        title=truncate(clean(title).strip() or f"(untitled {source} signal)", TITLE_LIMIT),
        description=truncate(clean(description), DESCRIPTION_LIMIT), labels=kept, fingerprint=fingerprint,
        correlation_keys=keys, starts_at=starts, ends_at=ends_at,
        links=tuple(link for link in links if link is not None),
        values=tuple(MetricValue(truncate(v.name, 100), v.value) for v in finite_values(values)),
        raw=raw, delivery_key=delivery_key_for(source, fingerprint, status, starts, ends_at, *delivery_extra),
    )
