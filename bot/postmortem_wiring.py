"""Postmortem wiring: a publisher per target and the narrator (the subscribers are incident_core/services/postmortems.py)."""

from __future__ import annotations

from typing import Any

from bot.bootstrap import App
from incident_core.publishing import KNOWLEDGE, Narrator, Publisher
from incident_core.services.knowledge_loop import KnowledgeTarget
from publishers.errors import PublishError


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
    if target == KNOWLEDGE:  # the knowledge loop (incident_core/services/knowledge_loop.py)
        from knowledge.learning import KnowledgeLoopIndex
        from publishers.markdown import to_markdown

        return KnowledgeTarget(queries=app.queries, directory=app.directory,
                               index=lambda: KnowledgeLoopIndex(app.knowledge), to_markdown=to_markdown)
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
