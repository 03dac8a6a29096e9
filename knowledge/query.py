"""Turn what a responder has (free text, a log excerpt, an alert payload) into search text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from knowledge.log_lines import normalize_line
from knowledge.markdown import split_camel

_TEXT_KEYS = (
    "alertname", "alert_name", "title", "alert_title", "event_title", "summary", "description",
    "message", "text", "body", "event_msg", "details", "detail", "reason", "error", "name",
    "check", "monitor_name", "alert_metric", "metric", "query", "alert_query", "class", "component",
)
_LABEL_KEYS = (
    "alertname", "service", "service_name", "app", "job", "namespace", "container", "deployment",
    "statefulset", "daemonset", "component", "mountpoint", "device", "fstype", "reason", "resource",
    "queue", "topic", "consumergroup", "consumer_group", "database", "db", "cluster_name", "entity",
    "persistentvolumeclaim", "endpoint", "method", "route", "path", "code", "status_code", "phase",
)
_NESTED_KEYS = (
    "labels", "annotations", "commonLabels", "commonAnnotations", "groupLabels", "alerts", "event",
    "data", "payload", "custom_details", "alert", "incident", "service", "messages", "log_entries",
    "first_trigger_log_entry", "channel", "details",
)
_NOISE_KEYS = frozenset(
    {"severity", "priority", "status", "state", "fingerprint", "generatorurl", "externalurl", "groupkey",
     "receiver", "startsat", "endsat", "id", "html_url", "self", "url", "link", "silenceurl",
     "dashboardurl", "panelurl", "imageurl", "runbook_url", "instance", "pod", "prometheus", "version",
     "orgid", "created_at", "occurred_at", "timestamp", "date", "last_updated", "event_type", "type",
     "truncatedalerts", "resource_type", "agent", "client", "number", "incident_key", "urgency", "href"}
)
_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b"
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\b"
    r"|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b|\b1[5-9]\d{8}(?:\d{3})?\b"
)
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_HEX = re.compile(r"\b(?:0x)?(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b")
_POD_SUFFIX = re.compile(r"\b([a-z][a-z0-9-]*?)-(?:[a-z0-9]{8,10}-[a-z0-9]{5}|(?=[a-z]*\d)[a-z0-9]{5})\b(?=[^a-z0-9-]|$)")
_PID = re.compile(r"\[\d+\]")
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_LONG_NUMBER = re.compile(r"\b\d{5,}\b")
_LEVEL = re.compile(r"\b(?:level=)?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRIT|CRITICAL)\b[:\]]?")
_KV_NOISE = re.compile(r"\b(?:level|lvl|ts|time|trace_?id|span_?id|request_?id|req_?id|caller)=\S+")
# klog (kubelet, apiserver…): "E0503 09:12:33.123456    1042 pod_workers.go:1298] message"
_KLOG_PREFIX = re.compile(r"^\s*[IWEF]\d{4}\s+\d{2}:\d{2}:\d{2}\.\d+\s+\d+\s+[\w./-]+:\d+\]\s*")
_SOURCE_LOCATION = re.compile(r"\b(?:caller|source|logger|func|component)=\S+|\b[\w./-]+\.(?:go|java|py|rs|c|cc):\d+\b")
_STACK_FRAME = re.compile(r"^\s+at\s+[\w$.<>/]+\(|^\s*\.\.\. \d+ more")
# nginx "2024/05/03 06:41:22 [error] 2211#2211: *88123", PostgreSQL "UTC [2231]", Spring "1 --- [nio-8080-exec-4]"
_LOG_NOISE = re.compile(r"\b\d{4}/\d{2}/\d{2}\b|\b\d+#\d+:|\*\d+\b|\b(?:UTC|GMT|CET|CEST|PST|PDT)\b|^\s*\d+\s+---\s+")
_RECORD_MESSAGE = ("msg", "message", "err", "error", "error.message", "exception", "reason")
_RECORD_TIME = frozenset({"level", "lvl", "severity", "ts", "time", "timestamp", "@timestamp"})
_RECORD_NOISE = frozenset({"level", "lvl", "severity", "ts", "time", "timestamp", "@timestamp", "caller", "logger",
                           "source", "thread", "pid", "trace_id", "span_id", "request_id", "host", "hostname"})
# kubectl describe events: "Warning  FailedMount  3m (x4 over 10m)  kubelet  MountVolume.SetUp failed …"
_KUBE_EVENT = r"^\s*(?:Normal|Warning)\s+[A-Z][A-Za-z]+\s"
_LOG_HINT = re.compile(r"^\s+at\s+[\w$./<>]+\(|\bException in thread\b|\d{2}:\d{2}:\d{2}|\b(?:INFO|WARN|WARNING|ERROR|FATAL|DEBUG)\b|level=|\bE\d{4} |"
                       + _KUBE_EVENT)
_MAX_CHARS = 4000


def build_search_text(query: str | dict[str, Any] | list[Any]) -> str:
    """Search text for free text (as is), a log excerpt (noise stripped) or an alert payload (dict/JSON)."""
    if isinstance(query, dict | list):
        return from_payload(query)
    text = query.strip()
    if text[:1] in "{[":
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and is_log_record(parsed):
            return from_log(_record_text(parsed))
        if isinstance(parsed, dict | list):
            return from_payload(parsed) or from_log(text)
    if looks_like_log(text):
        return from_log(text)
    return re.sub(r"\s+", " ", text)[:_MAX_CHARS]


def looks_like_log(text: str) -> bool:
    """True when most non-empty lines carry a timestamp or a log level."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return False
    hinted = sum(1 for line in lines if _LOG_HINT.search(line))
    return hinted >= max(1, (len(lines) + 1) // 2)


def is_log_record(record: dict[str, Any]) -> bool:
    """A structured log line (zap, logrus, slog, bunyan…): a message key beside a level or time key."""
    keys = {str(k).lower() for k in record}
    return bool(keys & set(_RECORD_MESSAGE)) and bool(keys & _RECORD_TIME)


def _record_text(record: dict[str, Any]) -> str:
    """The message and error of a structured log record, then its other short string values."""
    lowered = {str(k).lower(): v for k, v in record.items()}
    parts = [str(lowered[k]) for k in _RECORD_MESSAGE if isinstance(lowered.get(k), str)]
    parts += [f"{k} {v}" for k, v in lowered.items()
              if isinstance(v, str) and k not in _RECORD_MESSAGE and k not in _RECORD_NOISE and len(v) < 80]
    return " ".join(parts)


def from_log(text: str) -> str:
    """Strip timestamps, uuids, hex ids, pod hashes, IPs, log levels and source locations; each line once."""
    seen: dict[str, None] = {}
    for raw in text.split("\n"):
        if _STACK_FRAME.match(raw):
            continue
        line = _LOG_NOISE.sub(" ", _SOURCE_LOCATION.sub(" ", normalize_line(_KLOG_PREFIX.sub(" ", raw))))
        cleaned = _POD_SUFFIX.sub(r"\1", _KV_NOISE.sub(" ", line))
        for pattern in (_TIMESTAMP, _UUID, _HEX, _IP, _LONG_NUMBER, _LEVEL, _PID):
            cleaned = pattern.sub(" ", cleaned)
        cleaned = re.sub(r"[\[\]{}()<>|\"]+", " ", cleaned)
        cleaned = re.sub(r"\s+", " ", cleaned).strip(" -:;,.")
        if len(cleaned) > 2:
            seen.setdefault(cleaned, None)
    return " ".join(seen)[:_MAX_CHARS]


def from_payload(payload: dict[str, Any] | list[Any]) -> str:
    """Collect alert names, summaries, descriptions and meaningful labels from any webhook shape."""
    parts: dict[str, None] = {}
    for value in _walk(payload, depth=0):
        cleaned = _clean_value(value)
        if cleaned:
            parts.setdefault(cleaned, None)
    return " ".join(parts)[:_MAX_CHARS]


def _walk(node: Any, depth: int) -> Iterable[str]:
    if depth > 6:
        return
    if isinstance(node, list):
        for item in node[:20]:
            yield from _walk(item, depth + 1)
        return
    if not isinstance(node, dict):
        return
    lowered = {str(k).lower(): k for k in node}
    for key in _TEXT_KEYS + _LABEL_KEYS:
        original = lowered.get(key.lower())
        if original is None:
            continue
        value = node[original]
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            yield str(value)
    tags = node.get("tags")
    if isinstance(tags, str | list):
        yield from _tags(tags)
    for key in _NESTED_KEYS:
        original = lowered.get(key.lower())
        if original is not None and isinstance(node[original], dict | list):
            yield from _walk(node[original], depth + 1)
    for key, value in node.items():
        name = str(key).lower()
        if name in _NOISE_KEYS or name in {k.lower() for k in _TEXT_KEYS + _LABEL_KEYS + _NESTED_KEYS}:
            continue
        if depth > 0 and isinstance(value, str) and 2 < len(value) < 80 and not value.startswith("http"):
            yield f"{key} {value}"


def _tags(tags: str | list[Any]) -> Iterable[str]:
    items = tags.split(",") if isinstance(tags, str) else [str(t) for t in tags]
    for item in items:
        key, _, value = item.strip().partition(":")
        if key.lower() in {"service", "env", "team", "app", "kube_namespace", "kube_deployment", "component"}:
            yield value or key


def _clean_value(value: str) -> str:
    text = _TEMPLATE.sub(" ", value)
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", text.strip()) and re.search(r"[a-z][A-Z]", text):
        text = f"{text.strip()} {split_camel(text.strip())}"
    text = _POD_SUFFIX.sub(r"\1", re.sub(r"https?://\S+", " ", text))
    for pattern in (_UUID, _HEX, _TIMESTAMP, _IP, _LONG_NUMBER):
        text = pattern.sub(" ", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", " ", text)
    return re.sub(r"\s+", " ", text).strip(" .:;,")
