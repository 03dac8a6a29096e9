"""Wires insights: the incident history, the action item tracker (Jira when configured), `/revenant patterns`,
and the weekly digest (fired once per slot through the outbox, posted per platform: bot/insights_delivery.py).
The recurrence watcher is an application service (incident_core/services/recurrence.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.bootstrap import App
from incident_core.chat_commands import Intent
from incident_core.chat_service import ChatContext, Reply
from incident_core.history import ActionItemTracker
from incident_core.insights_usecases import due_digests, patterns_handler
from incident_core.org_settings import OrgSettings
from storage.insights_queries import SqlIncidentHistory
from storage.reminder_ledger import SqlReminderLedger

log = logging.getLogger("revenant.insights")


def history(app: App) -> SqlIncidentHistory:
    """Past incidents, read through the read engine."""
    return SqlIncidentHistory(app.queries.engine)


def tracker_for(app: App) -> Callable[[str], ActionItemTracker | None]:
    """Per org: Jira when the org publishes to Jira and JIRA_URL/JIRA_TOKEN are set, else None (items stay open)."""
    if "tracker" in app.overrides:
        return lambda _org_id: app.overrides["tracker"]
    s = app.settings

    def build(org_id: str) -> ActionItemTracker | None:
        org = app.directory.org(org_id)
        jira = (org.config.publishing.get("jira") if org else None) or {}
        if not (isinstance(jira, dict) and jira.get("project") and s.jira_url and s.jira_token):
            return None
        from publishers.jira import JiraPublisher
        from publishers.jira_items import JiraActionItems

        return JiraActionItems(JiraPublisher(s.jira_url, s.jira_user, s.jira_token.get_secret_value(), timeout=10),
                               str(jira["project"]))

    return build


def patterns_extra(app: App) -> dict[str, Callable[[Intent, ChatContext], Reply]]:
    """ChatService.extra entry for `/revenant patterns`."""
    return {"patterns": patterns_handler(deps=app.deps, queries=app.queries, history=history(app),
                                         tracker=tracker_for(app))}


def fire_digests(app: App, ledger: SqlReminderLedger, org_id: str, settings: OrgSettings, now: datetime) -> int:
    """Write the digest deliveries due now for one org (each slot once, across processes); returns how many."""
    projects = [(p.id, p.config) for p in app.directory.projects(org_id)]
    fired = 0
    for message in due_digests(org_settings=settings, projects=projects, now=now):
        if ledger.fire(org_id, message):
            fired += 1
            log.info("weekly digest %s queued for org %s", message.key, org_id)
    return fired
