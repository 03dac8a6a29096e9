"""Adaptive Cards for insights: the `/revenant patterns` answer and the weekly digest with its chart inline.

Teams refuses messages over about 28 KB (HTTP 413 MessageSizeTooBig), card JSON included, so the chart
goes in as a small palette PNG (a data URI) and the card is measured: when it would not fit, the chart
is left out and the card says where to get it instead.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from handlers.teams.cards import card
from incident_core.insights import Digest
from incident_core.patterns import ITEM_DONE, ITEM_OPEN, PatternReport
from incident_core.warroom import humanize

MESSAGE_BUDGET = 26_000  # bytes of the serialized card; Teams' limit is ~28 KB for the whole activity
MAX_PATTERNS = 8


def _md(text: object) -> str:
    """Teams markdown is interpreted in TextBlocks: neutralize its markup in outside strings."""
    out = str(text)
    for ch in "\\*_~`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return out


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text[:2000], "wrap": True, **style}


def _dur(seconds: float | None) -> str:
    return "—" if seconds is None else humanize(seconds)


def patterns_card(report: PatternReport) -> dict[str, Any]:
    """The answer to `@Revenant patterns`."""
    scope = " · ".join(_md(x) for x in (report.project, report.service) if x)
    body = [_text(f"Recurring patterns — last {report.days} days{f' · {scope}' if scope else ''} · "
                  f"{report.incidents} incident(s)", weight="Bolder", size="Medium")]
    if not report.patterns:
        body.append(_text("Nothing recurred: no service or alert had two incidents in this period."))
    for p in report.patterns[:MAX_PATTERNS]:
        ids = [i.human_id for i in p.incidents]
        lines = [f"**{_md(p.label)}** — {p.count} incidents, last {p.last_at:%d %b %H:%M} UTC",
                 f"MTTA {_dur(p.mtta_seconds)} · MTTR {_dur(p.mttr_seconds)} · "
                 + " ".join(f"{s}×{n}" for s, n in p.severities.items()),
                 ", ".join(ids[-6:]) + (f" (+{len(ids) - 6} earlier)" if len(ids) > 6 else "")]
        for pm in p.postmortems[:3]:
            items = "; ".join(f"{'✅' if a.status == ITEM_DONE else '⬜' if a.status == ITEM_OPEN else '❔'} "
                              f"{_md(a.title[:80])}" for a in pm.action_items[:5]) or "no action items"
            lines.append(f"Postmortem of {pm.human_id}: {items}")
        body.append({"type": "Container", "separator": True, "items": [_text("\n\n".join(lines))]})
    return card(body)


def digest_card(digest: Digest, chart: Callable[[], bytes] | None) -> dict[str, Any]:
    """The digest card; `chart` draws the compact PNG (left out, with a note, when the card would be too big)."""
    week, before = digest.this_week, digest.previous_week
    delta = "" if before is None else f" ({week.total - before.total:+d} on the week before)"
    by_service = ", ".join(f"{_md(s)} {n}" for s, n in sorted(week.counts.items(), key=lambda kv: -kv[1])) or "none"
    body: list[dict[str, Any]] = [
        _text(f"Weekly incident digest — {_md(digest.scope)}", weight="Bolder", size="Medium"),
        _text(f"**Week of {digest.week:%d %b %Y}**: {week.total} incident(s){delta}\n\nBy service: {by_service}\n\n"
              f"MTTR {_dur(week.mttr_seconds)}" + ("" if before is None else f" (week before: {_dur(before.mttr_seconds)})")),
    ]
    if digest.patterns:
        body.append(_text("**Recurring in the last 30 days**\n\n" + "\n".join(
            f"- {_md(p.label)}: {p.count} incidents, MTTR {_dur(p.mttr_seconds)}"
            + (f", {p.items_with(ITEM_OPEN)} action item(s) open" if p.action_items else "")
            for p in digest.patterns)))
    without = card([*body, _text("The chart did not fit in a Teams message: `revenant insights --org … --chart "
                                 "chart.png` draws it.", isSubtle=True, size="Small")])
    if chart is None:
        return without
    png = chart()
    image = {"type": "Image", "url": "data:image/png;base64," + base64.b64encode(png).decode(),
             "altText": f"Incidents per week by service and the MTTR trend, {digest.scope}"[:200]}
    with_chart = card([*body, image])
    return with_chart if len(json.dumps(with_chart).encode()) <= MESSAGE_BUDGET else without
