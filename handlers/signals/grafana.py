"""Grafana unified alerting webhook: the Alertmanager shape plus orgId/state/title/message, values and URLs."""

from __future__ import annotations

import math
import re
from typing import Any

from handlers.signals._common import Context, expect_object, fail, join, json_type, number, opt_str, safe_link
from handlers.signals.alertmanager import normalize_group
from incident_core.signals import Link, Signal

SOURCE = "grafana"
# valueString looks like "[ var='B' labels={instance=a} value=22.5 ], [ var='C' labels={} value=1 ]";
# legacy and Grafana's own docs example: "[ metric='' labels={} value=14151.331895396988 ]" (empty name → "value").
_VALUE_STRING = re.compile(r"(?:var|metric)='(?P<name>[^']*)'[^\]]*?value=(?P<value>[^\s\],]+)")


def _values(alert: dict[str, Any], at: str) -> list[tuple[str, float]]:
    raw = alert.get("values")
    if raw is not None:
        out = []
        for name, value in expect_object(raw, join(at, "values")).items():
            if value is not None:
                out.append((name, number(value, f"{join(at, 'values')}.{name}")))
        return out
    text = opt_str(alert, "valueString", at) or ""
    found = []
    for match in _VALUE_STRING.finditer(text):
        try:
            value = float(match["value"])
        except ValueError:
            continue
        if math.isfinite(value):
            found.append((match["name"] or "value", value))
    return found


def _extras(alert: dict[str, Any], at: str) -> tuple[list[Link | None], list[tuple[str, float]]]:
    links = [
        safe_link("Dashboard", opt_str(alert, "dashboardURL", at)),
        safe_link("Panel", opt_str(alert, "panelURL", at)),
        safe_link("Silence", opt_str(alert, "silenceURL", at)),
        safe_link("Image", opt_str(alert, "imageURL", at)),
    ]
    return links, _values(alert, at)


def normalize(payload: object, ctx: Context) -> list[Signal]:
    """Grafana webhook payload → one Signal per alert (values become MetricValues)."""
    body = expect_object(payload, "")
    org_id = body.get("orgId")
    if org_id is not None and (isinstance(org_id, bool) or not isinstance(org_id, int | str)):
        raise fail("orgId", f"must be a number, got {json_type(org_id)}")
    for key in ("state", "title", "message"):
        opt_str(body, key, "")
    return normalize_group(body, ctx, source=SOURCE, extras=_extras)
