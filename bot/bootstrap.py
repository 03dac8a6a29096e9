"""The composition root: the only place that builds engines, clients and services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine

from bot.chat_cache import ChatChanges, WatchedDirectory
from bot.guidance_source import build_executor, build_guidance
from bot.settings import Settings
from incident_core.group_commit import GroupCommit
from incident_core.ingest import GroupingPolicy, IngestOutcome, ingest_batch
from incident_core.signals import Signal
from incident_core.usecases import Deps
from storage.directory import SqlDirectory
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.outbox import SqlOutbox
from storage.queries import SqlIncidentQueries
from storage.unit_of_work import SqlUnitOfWork


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    def new_id(self) -> str:
        return uuid.uuid4().hex


@dataclass
class App:
    """Everything wired; handlers and the CLI receive this, never build their own."""

    settings: Settings
    engine: Engine
    deps: Deps
    queries: SqlIncidentQueries
    directory: SqlDirectory
    outbox: SqlOutbox
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    chat_changes: ChatChanges = field(default_factory=ChatChanges)  # binding/installation writes of this process
    overrides: dict[str, Any] = field(default_factory=dict)

    def resolve_org(self, name_or_id: str) -> str:
        """Org id for a name or id; NotFound with a hint otherwise."""
        return self.directory.require_org(name_or_id).id

    @cached_property
    def knowledge(self) -> Any:
        """The per-org knowledge base (built on first use: Chroma is slow to import)."""
        if "knowledge" in self.overrides:
            return self.overrides["knowledge"]
        from knowledge.embeddings import make_embedder
        from knowledge.kb import KnowledgeBase

        key = self.settings.openai_api_key.get_secret_value() if self.settings.openai_api_key else None
        embedder = make_embedder(self.settings.embeddings, openai_api_key=key,
                                 openai_base_url=self.settings.openai_base_url)
        return KnowledgeBase(data_dir=self.settings.data_dir / "knowledge", chroma_url=self.settings.chroma_url,
                             embedder=embedder, max_open_collections=self.settings.chroma_open_collections,
                             lexical_cache_mb=self.settings.lexical_cache_mb)

    @cached_property
    def signal_writer(self) -> GroupCommit[tuple[Signal, GroupingPolicy], IngestOutcome]:
        """Records routed signals, coalescing concurrent deliveries of one org into one transaction."""
        deps = self.deps
        return GroupCommit(lambda org_id, batch: ingest_batch(deps=deps, org_id=org_id, batch=batch),
                           linger=self.settings.ingest_linger_ms / 1000, max_items=self.settings.ingest_max_batch)

    @cached_property
    def executor(self) -> Any:
        """The playbook action executor (the simulator; override `executor`, or its delay `executor_delay`)."""
        if "executor" in self.overrides:
            return self.overrides["executor"]
        return build_executor(self.deps.clock, float(self.overrides.get("executor_delay", 1.0)))

    @cached_property
    def knowledge_sources(self) -> Any:
        """The org's runbook sources (GitHub repositories, local git checkouts)."""
        from storage.knowledge_sources import SqlKnowledgeSources

        return SqlKnowledgeSources(self.engine)

    @cached_property
    def source_syncer(self) -> Any:
        """Reads sources and syncs the knowledge base to them."""
        from knowledge.sources import GitHubReader, KnowledgeSyncer

        token = self.settings.github_token.get_secret_value() if self.settings.github_token else None
        return KnowledgeSyncer(self.knowledge, github=GitHubReader(api_url=self.settings.github_api_url,
                                                                   token=token))

    @cached_property
    def knowledge_health(self) -> Any:
        """Guidance failures of this process, for /metrics and /readyz."""
        from bot.knowledge_health import KnowledgeHealth

        return KnowledgeHealth.create(self.registry)

    @cached_property
    def delivery_monitor(self) -> Any:
        """Delivery counters and the backlog picture, for /metrics and /healthz."""
        from bot.delivery_monitor import DeliveryMonitor
        from storage.outbox_admin import SqlOutboxAdmin

        return DeliveryMonitor(self.registry, SqlOutboxAdmin(self.engine),
                               lag_threshold=self.settings.outbox_lag_alert)

    @cached_property
    def acked_monitor(self) -> Any:
        """Acknowledged chat requests waiting to be worked, for /metrics and /healthz."""
        from bot.acked_monitor import AckedMonitor
        from storage.acked_work import AckedWork

        return AckedMonitor(self.registry, AckedWork(self.engine))

    @cached_property
    def guidance(self) -> Any:
        """The guidance source (retrieval, ranked and phrased by a model when OPENAI_API_KEY is set)."""
        if "guidance" in self.overrides:
            return self.overrides["guidance"]
        return build_guidance(self.settings, self.knowledge)

    @cached_property
    def deliveries(self) -> Any:
        """Claims and recorded steps of chat deliveries (rooms, notices, guidance replies): each happens once."""
        from incident_core.delivery import Deliveries
        from storage.delivery_steps import SqlDeliveryClaims, SqlDeliverySteps

        claims = SqlDeliveryClaims(self.engine, **self.overrides.get("delivery_claims", {}))
        return Deliveries(SqlDeliverySteps(self.engine), claims)

    @cached_property
    def delivery_states(self) -> Any:
        """The outbox subscribers' incident reads: once per delivered message (or none: the claim's), then this
        process's own newer states."""
        from incident_core.delivery_snapshot import StateSnapshots

        cache = getattr(self.deps.uow, "cache", None)  # SqlUnitOfWork's: states this process committed

        def newest(org_id: str, incident_id: str) -> Any:
            return cache.get(org_id, incident_id) if cache is not None else None

        return StateSnapshots(self.queries, newest)

    @cached_property
    def slack_connections(self) -> Any:
        """Kept-alive connections to the Slack Web API, shared by every org's outbound client."""
        from bot.slack_transport import SlackConnections

        return SlackConnections()

    @cached_property
    def slack_identity(self) -> Any:
        """Which workspace SLACK_BOT_TOKEN belongs to (token mode), or None without a bot token."""
        s = self.settings
        if s.slack_bot_token is None or (s.slack_client_id and s.slack_client_secret):
            return None
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.slack_identity import TokenIdentity

        url = s.slack_api_url or AsyncWebClient.BASE_URL
        return TokenIdentity(s.slack_bot_token.get_secret_value(), url if url.endswith("/") else url + "/")

    def close(self) -> None:
        """Release what the app opened: the knowledge base's Chroma client (when built here), the engines."""
        if "knowledge" in self.__dict__ and "knowledge" not in self.overrides:  # built, and owned by the app
            self.__dict__["knowledge"].close()
        if "slack_connections" in self.__dict__:
            self.__dict__["slack_connections"].close()
        self.directory.close()
        self.engine.dispose()
        self.queries.engine.dispose()


def bootstrap(settings: Settings, *, migrate: bool | None = None, **overrides: Any) -> App:
    """Build the app. The embedded SQLite database upgrades itself; PostgreSQL uses `db upgrade`."""
    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    if migrate if migrate is not None else settings.is_embedded:
        owner = make_engine(url, app_role=None, timeout=settings.db_timeout)
        try:
            upgrade(owner, app_role=settings.db_app_role)
        finally:
            owner.dispose()
    limits: dict[str, Any] = {"timeout": settings.db_timeout,
                              "statement_timeout": settings.db_statement_timeout or None}
    engine = overrides.pop("engine", None) or make_engine(url, app_role=settings.db_app_role, **limits)
    reader = make_engine(url, app_role=settings.db_app_role, readonly=True) if settings.is_embedded else engine
    changes = ChatChanges()
    directory = WatchedDirectory(engine, changes=changes,
                                 admin=lambda: make_engine(url, app_role=None, timeout=settings.db_timeout))
    deps = Deps(uow=SqlUnitOfWork(engine), directory=directory,
                clock=overrides.pop("clock", None) or SystemClock(),
                ids=overrides.pop("ids", None) or UuidIds())
    return App(settings=settings, engine=engine, deps=deps, queries=SqlIncidentQueries(reader),
               directory=directory, outbox=SqlOutbox(engine), chat_changes=changes, overrides=overrides)


def migrate_database(settings: Settings) -> str | None:
    """`revenant db upgrade`: run migrations as the owner; returns the revision now applied."""
    from storage.migrate import current

    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    owner = make_engine(settings.effective_database_url, app_role=None, timeout=settings.db_timeout)
    try:
        upgrade(owner, app_role=settings.db_app_role)
        return current(owner)
    finally:
        owner.dispose()
