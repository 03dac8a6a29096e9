"""The one normalized Signal schema every webhook payload (alert, log, metric, change) becomes."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import Any

from incident_core.errors import ValidationError
from incident_core.model import Severity

TITLE_LIMIT = 300
DESCRIPTION_LIMIT = 4000
LABEL_VALUE_LIMIT = 1024


class SignalKind(StrEnum):
    """What a signal reports."""

    ALERT = "alert"
    LOG = "log"
    METRIC = "metric"
    CHANGE = "change"


class SignalStatus(StrEnum):
    """A signal is firing until its source says it resolved."""

    FIRING = "firing"
    RESOLVED = "resolved"


class SignalSeverity(StrEnum):
    """The one severity scale every source is mapped to, worst first."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """1 for critical … 4 for info (lower is more severe, like Severity.rank)."""
        return _SEVERITY_ORDER.index(self) + 1

    def is_at_least(self, minimum: SignalSeverity) -> bool:
        """True when this severity is as severe as `minimum` or worse."""
        return self.rank <= minimum.rank

    def to_incident_severity(self) -> Severity:
        """critical→SEV1, error→SEV2, warning→SEV3, info→SEV4."""
        return Severity(f"SEV{self.rank}")

    @classmethod
    def parse(cls, text: str) -> SignalSeverity:
        """Accept a scale name or a common alias (page, high, warn, p2, sev3, none…)."""
        found = SEVERITY_ALIASES.get(text.strip().lower())
        if found is None:
            names = ", ".join(s.value for s in cls)
            raise ValidationError(f"severity must be one of {names} (or an alias), got {text[:40]!r}")
        return found


_SEVERITY_ORDER = list(SignalSeverity)

SEVERITY_ALIASES: Mapping[str, SignalSeverity] = MappingProxyType(
    {
        **dict.fromkeys(
            ("critical", "crit", "page", "fatal", "emergency", "emerg", "alert", "p1", "sev1", "disaster"),
            SignalSeverity.CRITICAL,
        ),
        **dict.fromkeys(("error", "err", "high", "major", "p2", "sev2"), SignalSeverity.ERROR),
        **dict.fromkeys(("warning", "warn", "medium", "minor", "average", "p3", "sev3"), SignalSeverity.WARNING),
        **dict.fromkeys(
            ("info", "information", "informational", "notice", "none", "low", "ok", "debug", "trace",
             "p4", "p5", "sev4", "sev5"),
            SignalSeverity.INFO,
        ),
    }
)


class FrozenLabels(dict[str, str]):
    """A read-only, hashable, picklable str→str dict (a signal's labels must never be mutated)."""

    def _readonly(self, *_: object, **__: object) -> None:
        raise TypeError("signal labels are read-only; build a new Signal instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> tuple[type[FrozenLabels], tuple[dict[str, str]]]:
        return (FrozenLabels, (dict(self),))


@dataclass(frozen=True)
class Link:
    """A titled URL shown with the signal (source, runbook, dashboard, silence…)."""

    title: str
    url: str


@dataclass(frozen=True)
class RawRef:
    """Where a signal's raw item is: a stored delivery payload (by id) and a JSON pointer into it."""

    payload: str
    pointer: str


@dataclass(frozen=True)
class MetricValue:
    """A named numeric value carried by the signal (a finite float)."""

    name: str
    value: float


@dataclass(frozen=True, kw_only=True)
class Signal:
    """One normalized alert, log record, metric breach or change; `labels` is a read-only mapping."""

    org_id: str
    project_id: str | None
    source: str
    kind: SignalKind
    status: SignalStatus
    severity: SignalSeverity
    service: str | None
    title: str
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    fingerprint: str
    correlation_keys: tuple[str, ...] = ()
    starts_at: datetime
    ends_at: datetime | None = None
    links: tuple[Link, ...] = ()
    values: tuple[MetricValue, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False, repr=False)
    delivery_key: str = ""
    # The delivery's whole payload when `raw` lies inside it: stored once per delivery, `raw_ref` points into it
    # and `to_dict` leaves `raw` out (incident_core/raw_payloads.py).
    raw_ref: RawRef | None = None
    payload: Any = field(default=None, hash=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.org_id:
            raise ValidationError("a signal needs an org_id")
        if not self.fingerprint:
            raise ValidationError("a signal needs a fingerprint")
        object.__setattr__(self, "kind", SignalKind(self.kind))
        object.__setattr__(self, "status", SignalStatus(self.status))
        object.__setattr__(self, "severity", SignalSeverity(self.severity))
        object.__setattr__(self, "starts_at", as_utc(self.starts_at))
        if self.ends_at is not None:
            object.__setattr__(self, "ends_at", as_utc(self.ends_at))
        object.__setattr__(self, "labels", FrozenLabels(self.labels))
        object.__setattr__(self, "correlation_keys", tuple(self.correlation_keys))
        object.__setattr__(self, "links", tuple(self.links))
        object.__setattr__(self, "values", tuple(self.values))
        if not self.delivery_key:
            key = delivery_key_for(self.source, self.fingerprint, self.status, self.starts_at, self.ends_at)
            object.__setattr__(self, "delivery_key", key)

    def placed(self, *, org_id: str | None = None, project_id: str | None = None, raw_ref: RawRef | None = None,
               payload: Any = None) -> Signal:
        """This signal with its org and project, or the reference to its raw item, set: what intake and the
        webhook change on every signal, copied without rebuilding it (`replace` would run `__post_init__`'s
        checks and conversions again on fields that do not change; these four need none beyond the org's)."""
        if org_id is not None and not org_id:
            raise ValidationError("a signal needs an org_id")
        copy = object.__new__(Signal)
        fields = copy.__dict__
        fields.update(self.__dict__)
        if org_id is not None:
            fields["org_id"], fields["project_id"] = org_id, project_id
        if raw_ref is not None:
            fields["raw_ref"], fields["payload"] = raw_ref, payload
        return copy

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (datetimes as ISO-8601), the inverse of `Signal.from_dict`."""
        return {
            "org_id": self.org_id,
            "project_id": self.project_id,
            "source": self.source,
            "kind": self.kind.value,
            "status": self.status.value,
            "severity": self.severity.value,
            "service": self.service,
            "title": self.title,
            "description": self.description,
            "labels": dict(self.labels),
            "fingerprint": self.fingerprint,
            "correlation_keys": list(self.correlation_keys),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "links": [{"title": link.title, "url": link.url} for link in self.links],
            "values": [{"name": v.name, "value": v.value} for v in self.values],
            **({"raw_ref": {"payload": self.raw_ref.payload, "pointer": self.raw_ref.pointer}} if self.raw_ref
               else {"raw": dict(self.raw)}),
            "delivery_key": self.delivery_key,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signal:
        """Rebuild a signal stored with `to_dict`; raises ValidationError on a malformed dict."""
        try:
            ends_at = data.get("ends_at")
            return cls(
                org_id=str(data["org_id"]),
                project_id=data.get("project_id"),
                source=str(data["source"]),
                kind=SignalKind(data["kind"]),
                status=SignalStatus(data["status"]),
                severity=SignalSeverity(data["severity"]),
                service=data.get("service"),
                title=str(data["title"]),
                description=str(data.get("description", "")),
                labels={str(k): str(v) for k, v in dict(data.get("labels") or {}).items()},
                fingerprint=str(data["fingerprint"]),
                correlation_keys=tuple(str(k) for k in data.get("correlation_keys") or ()),
                starts_at=datetime.fromisoformat(data["starts_at"]),
                ends_at=datetime.fromisoformat(ends_at) if ends_at else None,
                links=tuple(Link(str(x["title"]), str(x["url"])) for x in data.get("links") or ()),
                values=tuple(MetricValue(str(x["name"]), float(x["value"])) for x in data.get("values") or ()),
                raw=dict(data.get("raw") or {}),
                delivery_key=str(data.get("delivery_key") or ""),
                raw_ref=RawRef(str(ref["payload"]), str(ref["pointer"])) if (ref := data.get("raw_ref")) else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError(f"not a stored signal: {exc!r}") from None


def as_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC; a naive datetime is taken to be UTC already."""
    if not isinstance(moment, datetime):
        raise ValidationError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _digest(*parts: str) -> str:
    # The JSON array json.dumps(parts, ensure_ascii=False, separators=(",", ":")) writes, built from the C string
    # encoder it uses for each part (a new JSONEncoder per json.dumps call with options was most of the cost).
    if all(type(part) is str for part in parts):
        payload = "[" + ",".join(map(encode_basestring, parts)) + "]"
    else:
        payload = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def derive_fingerprint(source: str, identity: Mapping[str, str]) -> str:
    """A stable fingerprint from the source and its identifying labels (never annotations or values)."""
    flat = [f"{name}={identity[name]}" for name in sorted(identity)]
    return _digest(source, *flat)[:16]


def delivery_key_for(
    source: str, fingerprint: str, status: str, starts_at: datetime, ends_at: datetime | None, *extra: str
) -> str:
    """Hash identifying one delivery's content, so an exact redelivery is absorbed idempotently."""
    ends = ends_at.isoformat() if ends_at else ""
    return _digest(source, fingerprint, str(status), starts_at.isoformat(), ends, *extra)


def correlation_keys_for(
    *,
    fingerprint: str,
    service: str | None = None,
    alertname: str | None = None,
    trace_id: str | None = None,
    cluster: str | None = None,
    namespace: str | None = None,
    group: str | None = None,
) -> tuple[str, ...]:
    """The "name=value" keys a signal is correlated by, strongest first; only those present.

    A key naming only the alert is scoped: `alertname+scope=<alert>/<cluster>/<namespace>` when the
    namespace is known, so the same alert in two namespaces (or clusters) never shares a key. The
    bare `alertname=` key remains only for alerts with no service and no namespace at all.
    `group` is the sender's own notification group (Alertmanager / Grafana `groupKey`), already hashed.
    """
    keys = [f"fingerprint={fingerprint}"]
    if trace_id:
        keys.append(f"trace_id={trace_id}")
    if group:
        keys.append(f"{GROUP_KEY}={group}")
    if alertname and service:
        keys.append(f"alertname+service={alertname}/{service}")
    if alertname and namespace and not service:
        keys.append(f"alertname+scope={alertname}/{cluster or ''}/{namespace}")
    if service:
        keys.append(f"service={service}")
    if namespace:
        keys.append(f"cluster/namespace={cluster}/{namespace}" if cluster else f"namespace={namespace}")
    if alertname and not service and not namespace:
        keys.append(f"alertname={alertname}")
    return tuple(keys)


GROUP_KEY = "sender_group"


def sender_group(source: str, group_key: str | None, receiver: str | None = None) -> str | None:
    """The hashed identity of a sender's notification group (None when the payload names none)."""
    if not group_key:
        return None
    return _digest(source, receiver or "", group_key)[:16]


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def finite_values(pairs: Iterable[tuple[str, float]]) -> tuple[MetricValue, ...]:
    """MetricValues for the finite numbers among `pairs` (NaN and infinities are dropped)."""
    out = []
    for name, number in pairs:
        try:
            value = float(number)
        except (OverflowError, TypeError, ValueError):
            continue
        if math.isfinite(value):
            out.append(MetricValue(name, value))
    return tuple(out)
