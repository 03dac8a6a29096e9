"""Postmortem wiring: a publisher per target and the outbox subscribers (auto-draft, publish, chat notices)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.bootstrap import App
from bot.slack_wiring import slack_chat_for
from handlers.slack import mrkdwn, once
from handlers.slack.postmortem_blocks import notice_blocks
from incident_core import postmortem_usecases as pmu
from incident_core import richtext as rt
from incident_core.delivery import DeliveryBusy
from incident_core.errors import IncidentError
from incident_core.model import Status
from incident_core.postmortem_model import LOCKED, status_of
from incident_core.postmortem_render import PostmortemDocument, document_of
from incident_core.publishing import Narrator, Publication, Publisher
from incident_core.state_models import PostmortemStatus
from publishers.errors import PublishError
from publishers.markdown import to_markdown
from storage.outbox import PendingMessage

log = logging.getLogger("revenant.postmortem")
NOTIFY_ON_ATTEMPTS = (0, 3, 6)  # say so in the channel on the 1st, 4th and 7th failure, not on every retry


class KnowledgeTarget:
    """Publisher port for the knowledge loop: the postmortem is indexed into its org's knowledge."""

    def __init__(self, app: App) -> None:
        self.app = app

    def publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        state = self.app.queries.get(doc.org_id, doc.incident_id)
        project = self.app.directory.project(doc.org_id, state.project_id) if state and state.project_id else None
        service = state.services[0] if state and state.services else None
        sections = self.app.knowledge.index_document(
            doc.org_id, f"postmortems/{doc.slug}.md", f"Postmortem {doc.title}", to_markdown(doc.content),
            kind="postmortem",
            project=project.name if project else None, service=service)
        return Publication(url=f"knowledge://{doc.org_id}/postmortems/{doc.slug}", ref=f"{sections} sections")


def _need(value: Any, name: str) -> str:
    if value is None or value == "":
        raise PublishError(f"{name} is not set: configure it (environment or .env) for this target")
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def publisher_for(app: App, target: str) -> Publisher:
    """The publisher of one target, built from settings (tests may override any in `publishers`)."""
    overrides: dict[str, Publisher] = app.overrides.get("publishers", {})
    if target in overrides:
        return overrides[target]
    s = app.settings
    if target == "github":
        from publishers.github import GitHubPublisher

        return GitHubPublisher(_need(s.github_token, "GITHUB_TOKEN"), base_url=s.github_api_url,
                               seconds_between_writes=float(app.overrides.get("github_write_pause", 1.0)))
    if target == "jira":
        from publishers.jira import JiraPublisher

        return JiraPublisher(_need(s.jira_url, "JIRA_URL"), s.jira_user, _need(s.jira_token, "JIRA_TOKEN"))
    if target == "slack":
        from handlers.slack.outbound import make_client
        from handlers.slack.postmortem_blocks import summary_message
        from publishers.slack_summary import SlackSummaryPublisher

        return SlackSummaryPublisher(make_client(_need(s.slack_bot_token, "SLACK_BOT_TOKEN"), s.slack_api_url),
                                     summary_message)
    if target.startswith("mcp:"):
        from publishers.mcp_connector import McpConnector

        return McpConnector()
    if target == "knowledge":
        return KnowledgeTarget(app)
    raise PublishError(f"unknown publishing target {target!r}")


def make_narrator(app: App) -> Narrator | None:
    """The LLM narrator when OPENAI_API_KEY is set (or a test override), else None: the draft stays offline."""
    if "narrator" in app.overrides:
        return app.overrides["narrator"]
    s = app.settings
    if s.openai_api_key is None:
        return None
    from openai import OpenAI

    from knowledge.postmortem_llm import OpenAINarrator

    client = OpenAI(api_key=s.openai_api_key.get_secret_value(), base_url=s.openai_base_url, timeout=30,
                    max_retries=1)
    return OpenAINarrator(client, s.llm_model)


class ChatNotices:
    """Posts `chat.notice` texts (and reminder snooze buttons) into the incident's Slack channel."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.chat_for = slack_chat_for(app)

    def post(self, org_id: str, incident_id: str, content: rt.Rich, *, key: str,
             snooze: str | None = None) -> bool:
        """Post the notice once per `key`; True when posted (now or before), False when the incident has no
        chat room (the notice is logged instead)."""
        state = self.app.queries.get(org_id, incident_id)
        chat = self.chat_for(org_id)
        room = state.rooms.get("slack") if state else None
        if chat is None or not room or state is None:
            log.info("notice for %s (no chat room): %s", incident_id, content.plain())
            return False
        client, channel = chat.client, str(room.room_id)
        self.app.deliveries.once(org_id, f"notice:slack:{key}", f"a notice for {state.human_id}", lambda: {
            "ts": once.post_once(client, channel, once.NOTICE, {"incident_id": incident_id, "key": key},
                                 text=mrkdwn.message(content)["text"],
                                 blocks=notice_blocks(content, incident_id, snooze))})
        return True

    def __call__(self, msg: PendingMessage) -> None:
        self.post(msg.org_id, str(msg.payload["incident_id"]), pmu.notice_content(msg.payload), key=msg.key,
                  snooze=msg.payload.get("snooze"))


class PostmortemPublishing:
    """`postmortem.publish` subscriber: publish one approved postmortem to one target, then record it."""

    def __init__(self, app: App, notices: ChatNotices) -> None:
        self.app = app
        self.notices = notices

    def __call__(self, msg: PendingMessage) -> None:
        incident_id, target = str(msg.payload["incident_id"]), str(msg.payload["target"])
        state = self.app.queries.get(msg.org_id, incident_id)
        if state is None or target in state.postmortem.published or status_of(state) not in LOCKED:
            return
        config = pmu.publish_targets(deps=self.app.deps, state=state).get(target)
        try:
            if config is None:
                raise PublishError(f"{target} is no longer configured for this org; add it back to the org's "
                                   "publishing settings (`revenant org config`)")
            # Claimed across processes: each publisher finds its earlier copy before creating one, and the
            # claim keeps two processes from both finding nothing and both creating.
            with self.app.deliveries.run(msg.org_id, f"publish:{target}:{incident_id}",
                                         f"{state.human_id}'s postmortem to {target}"):
                published = publisher_for(self.app, target).publish(
                    document_of(state, self.app.directory.display_names(msg.org_id)), config)
        except DeliveryBusy:
            raise  # another process is publishing it right now: no notice, the outbox retries
        except Exception as exc:
            log.warning("publishing %s's postmortem to %s failed (attempt %d): %s: %s", state.human_id, target,
                        msg.attempts + 1, type(exc).__name__, str(exc)[:300])
            if msg.attempts in NOTIFY_ON_ATTEMPTS:
                self._tell(msg.org_id, incident_id, f"{msg.key}:failed:{msg.attempts}", rt.doc(rt.para(
                    rt.emoji("warning"), f" Publishing {state.human_id}'s postmortem to {target} failed (attempt "
                    f"{msg.attempts + 1}): {str(exc)[:300]}. Retrying with backoff.")))
            raise
        pmu.record_publication(deps=self.app.deps, org_id=msg.org_id, incident_id=incident_id, target=target,
                               url=published.url, ref=published.ref)

    def _tell(self, org_id: str, incident_id: str, key: str, content: rt.Rich) -> None:
        try:
            self.notices.post(org_id, incident_id, content, key=key)
        except Exception:  # noqa: BLE001 — the notice is best effort; the publish retry is what matters
            log.exception("could not post a publishing notice")


class AutoDrafter:
    """`incident.changed` subscriber: draft the postmortem once the incident is resolved (if nobody did)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.narrator = make_narrator(app)

    def __call__(self, msg: PendingMessage) -> None:
        # The state decides, not the message's `types`: dispatch() coalesces several `incident.changed`
        # messages of one incident per pass, so the one that carried StatusChanged may be skipped.
        state = self.app.queries.get(msg.org_id, str(msg.payload["incident_id"]))
        if state is None or state.status is not Status.RESOLVED:
            return
        if status_of(state) not in (None, PostmortemStatus.REVIEWING):
            return
        try:
            pmu.draft_postmortem(deps=self.app.deps, queries=self.app.queries, org_id=msg.org_id,
                                 incident_id=state.incident_id, actor=pmu.SYSTEM, narrator=self.narrator,
                                 check_role=False, announce=True,
                                 idempotency_key=f"pm-auto-draft:{state.incident_id}")
        except IncidentError as exc:
            log.info("no automatic draft for %s: %s", state.human_id, exc)


def add_subscribers(app: App, subs: dict[str, list[Callable[[PendingMessage], None]]]) -> None:
    """Register the postmortem subscribers (called from bot.worker.subscribers)."""
    notices = ChatNotices(app)
    subs.setdefault("incident.changed", []).append(AutoDrafter(app))
    subs.setdefault(pmu.PUBLISH, []).append(PostmortemPublishing(app, notices))
    subs.setdefault(pmu.NOTICE, []).append(notices)
