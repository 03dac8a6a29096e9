"""Block Kit for insights: the `/revenant patterns` answer and the weekly digest (every outside string escaped)."""

from __future__ import annotations

from typing import Any

from incident_core.insights import Digest
from incident_core.patterns import ITEM_DONE, ITEM_OPEN, Pattern, PatternReport
from incident_core.warroom import humanize

MAX_PATTERNS = 8
SECTION_LIMIT = 3000


def esc(text: object) -> str:
    """Slack's three control characters, escaped (service and alert names come from signals)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _dur(seconds: float | None) -> str:
    return "—" if seconds is None else humanize(seconds)


def _section(text: str) -> dict[str, Any]:
    cut = text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut}}


def pattern_text(p: Pattern) -> str:
    """One pattern: what, how often, when last, MTTA/MTTR, severities, postmortems and their action items."""
    ids = [i.human_id for i in p.incidents]
    shown = ", ".join(ids[-6:]) + (f" (+{len(ids) - 6} earlier)" if len(ids) > 6 else "")
    sev = " ".join(f"{s}×{n}" for s, n in p.severities.items())
    lines = [f"*{esc(p.label)}* — {p.count} incidents, last {p.last_at:%d %b %H:%M} UTC",
             f"MTTA {_dur(p.mtta_seconds)} · MTTR {_dur(p.mttr_seconds)} · {sev}", f"{shown}"]
    for pm in p.postmortems[:3]:
        items = [f"{'✅' if a.status == ITEM_DONE else '⬜' if a.status == ITEM_OPEN else '❔'} {esc(a.title[:80])}"
                 + (f" ({esc(a.tracker_ref)})" if a.tracker_ref else "") for a in pm.action_items[:5]]
        lines.append(f"Postmortem of {pm.human_id}: " + ("; ".join(items) if items else "no action items"))
    return "\n".join(lines)


def patterns_blocks(report: PatternReport) -> list[dict[str, Any]]:
    """The answer to `/revenant patterns`."""
    scope = " · ".join(esc(x) for x in (report.project, report.service) if x)
    head = (f"*Recurring patterns* — last {report.days} days{f' · {scope}' if scope else ''} · "
            f"{report.incidents} incident(s)")
    blocks: list[dict[str, Any]] = [_section(head)]
    if not report.patterns:
        blocks.append(_section("Nothing recurred: no service or alert had two incidents in this period."))
    for p in report.patterns[:MAX_PATTERNS]:
        blocks.append(_section(pattern_text(p)))
    if len(report.patterns) > MAX_PATTERNS:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       f"{len(report.patterns) - MAX_PATTERNS} more: `revenant insights --org … --json`"}]})
    return blocks


def digest_text(digest: Digest) -> str:
    """Notification text of the digest."""
    return f"Weekly incident digest for {digest.scope}: {digest.this_week.total} incident(s) in the week of " \
           f"{digest.week:%d %b}"


def digest_blocks(digest: Digest) -> list[dict[str, Any]]:
    """The digest message the chart is shared with."""
    week, before = digest.this_week, digest.previous_week
    delta = "" if before is None else f" ({week.total - before.total:+d} on the week before)"
    by_service = ", ".join(f"{esc(s)} {n}" for s, n in sorted(week.counts.items(), key=lambda kv: -kv[1])) or "none"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Weekly incident digest — {digest.scope}"[:150]}},
        _section(f"*Week of {digest.week:%d %b %Y}*: {week.total} incident(s){delta}\nBy service: {by_service}\n"
                 f"MTTR {_dur(week.mttr_seconds)}"
                 + ("" if before is None else f" (week before: {_dur(before.mttr_seconds)})")),
    ]
    if digest.patterns:
        blocks.append(_section("*Recurring in the last 30 days*\n" + "\n".join(
            f"• {esc(p.label)}: {p.count} incidents, MTTR {_dur(p.mttr_seconds)}"
            + (f", {p.items_with(ITEM_OPEN)} action item(s) open" if p.action_items else "")
            for p in digest.patterns)))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                   "Chart: incidents opened per week by service, and the MTTR trend · `/revenant patterns`"}]})
    return blocks
