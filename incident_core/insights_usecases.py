"""Insight use cases: the pattern report (CLI, chat, MCP), the weekly digest, and when digests are due."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from incident_core import richtext as rt
from incident_core.chat_commands import Intent
from incident_core.chat_service import ChatContext, Reply
from incident_core.history import ActionItemTracker, IncidentHistory
from incident_core.insights import Digest, DigestSchedule, at_midnight, build_digest
from incident_core.org_settings import OrgSettings, ProjectSettings
from incident_core.patterns import PastIncident, PatternReport, find_patterns, past_incident, with_statuses
from incident_core.ports import IncidentQueries, OutboxMessage
from incident_core.rbac import Permission, require
from incident_core.usecases import Deps, role_of

DIGEST_TOPIC = "insights.digest"
CHAT_PERIOD = timedelta(days=30)
DIGEST_PATTERN_PERIOD = timedelta(days=30)
DIGEST_GRACE = timedelta(days=1)  # a digest missed for longer (a long outage) waits for next week's


def _tracked(incidents: list[PastIncident], org_id: str, tracker: ActionItemTracker | None) -> list[PastIncident]:
    refs = [i.postmortem for i in incidents if i.postmortem is not None and i.postmortem.action_items]
    if tracker is None or not refs:
        return incidents
    return with_statuses(incidents, tracker.statuses(org_id, refs))


def pattern_report(*, history: IncidentHistory, tracker: ActionItemTracker | None, org_id: str, now: datetime,
                   period: timedelta, project_id: str | None = None, project: str | None = None,
                   service: str | None = None) -> PatternReport:
    """Recurring patterns of the org (or one project, one service) over `period` up to `now`."""
    since = now - period
    incidents = [past_incident(s) for s in history.opened_since(org_id, since, until=now, project_id=project_id)]
    patterns = find_patterns(incidents, service=service)
    involved = {i.incident_id for p in patterns for i in p.incidents}
    tracked = {i.incident_id: i for i in _tracked([i for i in incidents if i.incident_id in involved], org_id,
                                                  tracker)}
    patterns = find_patterns([tracked.get(i.incident_id, i) for i in incidents], service=service)
    counted = [i for i in incidents if service is None or service in i.services]
    return PatternReport(since=since, until=now, incidents=len(counted), patterns=tuple(patterns),
                         service=service, project=project)


def weekly_digest(*, history: IncidentHistory, tracker: ActionItemTracker | None, org_id: str, scope: str,
                  week: date, weeks: int = 8, project_id: str | None = None) -> Digest:
    """The digest of the week starting `week`: the chart's weeks, and the patterns of the 30 days to its end."""
    end = at_midnight(week) + timedelta(weeks=1)
    start = min(at_midnight(week) - timedelta(weeks=weeks - 1), end - DIGEST_PATTERN_PERIOD)
    incidents = [past_incident(s) for s in history.opened_since(org_id, start, until=end, project_id=project_id)]
    recent = _tracked([i for i in incidents if i.opened_at >= end - DIGEST_PATTERN_PERIOD], org_id, tracker)
    return build_digest(incidents, find_patterns(recent), scope=scope, week=week, weeks=weeks)


def digest_key(platform: str, project_id: str | None, slot: datetime) -> str:
    """The outbox key of one digest delivery: one per platform, scope and scheduled slot."""
    return f"digest:{platform}:{project_id or 'org'}:{slot.isoformat()}"


def due_digests(*, org_settings: OrgSettings, projects: Sequence[tuple[str, ProjectSettings]],
                now: datetime) -> list[OutboxMessage]:
    """Digest deliveries due now for the org and each of its projects (keyed per slot: fire once)."""
    scopes: list[tuple[str | None, Any]] = [(None, org_settings.insights.get("digest"))]
    scopes += [(pid, settings.insights.get("digest")) for pid, settings in projects]
    out = []
    for project_id, raw in scopes:
        schedule = DigestSchedule.from_settings(raw)
        if schedule is None:
            continue
        slot = schedule.slot(now)
        if now - slot > DIGEST_GRACE:
            continue
        for platform in schedule.platforms():
            out.append(OutboxMessage(topic=DIGEST_TOPIC, key=digest_key(platform, project_id, slot), payload={
                "platform": platform, "project_id": project_id, "slot": slot.isoformat()}))
    return out


def patterns_handler(*, deps: Deps, queries: IncidentQueries, history: IncidentHistory,
                     tracker: Callable[[str], ActionItemTracker | None]) -> Callable[[Intent, ChatContext], Reply]:
    """ChatService.extra entry for `/revenant patterns [service] [30d|90d]`."""

    def handle(intent: Intent, ctx: ChatContext) -> Reply:
        require(role_of(deps=deps, org_id=ctx.org_id, actor=ctx.user), Permission.READ, actor=ctx.user)
        state = queries.get(ctx.org_id, ctx.incident_id) if ctx.incident_id else None
        project_id = state.project_id if state else ctx.project_id
        project = deps.directory.project(ctx.org_id, project_id) if project_id else None
        period = timedelta(days=intent.days) if intent.days else CHAT_PERIOD
        report = pattern_report(history=history, tracker=tracker(ctx.org_id), org_id=ctx.org_id,
                                now=deps.clock.now(), period=period, project_id=project.id if project else None,
                                project=project.name if project else None, service=intent.text or None)
        return Reply(rt.doc(summary(report)), report=report)

    return handle


def summary(report: PatternReport) -> str:
    """A plain one-paragraph fallback of the report (notifications, text-only clients)."""
    where = f" on {report.service}" if report.service else ""
    if not report.patterns:
        return f"No recurring patterns{where} in the last {report.days} days ({report.incidents} incident(s))."
    top = report.patterns[0]
    return (f"{len(report.patterns)} recurring pattern(s){where} in the last {report.days} days; most frequent: "
            f"{top.label}, {top.count} incidents.")
