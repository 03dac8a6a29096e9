"""In-memory implementations of the core's ports, for unit tests of the application services.

They keep just enough to drive the use cases (events, states, outbox, claims, steps); the storage contract
suites hold the real implementations to the same ports.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from incident_core import richtext as rt
from incident_core import warroom
from incident_core.delivery import Deliveries, Steps
from incident_core.errors import ConcurrencyConflict
from incident_core.events import Event
from incident_core.guidance import Guidance, GuidanceRequest
from incident_core.model import OrgRole
from incident_core.ports import Org, OutboxMessage, Project
from incident_core.rooms import OpenedRoom, RoomPlan
from incident_core.services.platforms import PlatformPlugin, Posted, RoomRef
from incident_core.state import IncidentState
from incident_core.usecases import Deps

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def new_id(self) -> str:
        self.n += 1
        return f"id{self.n:04d}"


@dataclass
class Store:
    """Events, projection and outbox of every org, in memory."""

    states: dict[tuple[str, str], IncidentState] = field(default_factory=dict)
    events: dict[tuple[str, str], list[Event]] = field(default_factory=dict)
    keys: dict[tuple[str, str], list[Event]] = field(default_factory=dict)
    outbox: list[tuple[str, OutboxMessage]] = field(default_factory=list)
    numbers: dict[str, int] = field(default_factory=dict)


class Tx:
    def __init__(self, store: Store, org_id: str) -> None:
        self.store, self.org_id = store, org_id

    def load(self, incident_id: str) -> IncidentState | None:
        return self.store.states.get((self.org_id, incident_id))

    def cached(self, incident_id: str) -> IncidentState | None:
        return None

    def next_incident_number(self) -> int:
        self.store.numbers[self.org_id] = self.store.numbers.get(self.org_id, 0) + 1
        return self.store.numbers[self.org_id]

    def recorded(self, idempotency_key: str) -> list[Event] | None:
        return self.store.keys.get((self.org_id, idempotency_key))

    def append(self, events: Sequence[Event], *, expected_version: int, state: IncidentState,
               idempotency_key: str | None = None, outbox: Sequence[OutboxMessage] = ()) -> None:
        current = self.store.states.get((self.org_id, state.incident_id))
        if (current.version if current else 0) != expected_version:
            raise ConcurrencyConflict("stale")
        self.store.states[(self.org_id, state.incident_id)] = state
        self.store.events.setdefault((self.org_id, state.incident_id), []).extend(events)
        if idempotency_key:
            self.store.keys[(self.org_id, idempotency_key)] = list(events)
        self.store.outbox.extend((self.org_id, m) for m in outbox)


class Uow:
    def __init__(self, store: Store) -> None:
        self.store = store

    def __call__(self, org_id: str) -> AbstractContextManager[Tx]:
        @contextmanager
        def tx() -> Iterator[Tx]:
            yield Tx(self.store, org_id)

        return tx()


class Queries:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, org_id: str, ref: str) -> IncidentState | None:
        return next((s for (o, i), s in self.store.states.items() if o == org_id and ref in (i, s.human_id)), None)

    def list(self, org_id: str, *, open_only: bool = False, limit: int = 100) -> list[IncidentState]:
        return [s for (o, _i), s in self.store.states.items() if o == org_id][:limit]

    def timeline(self, org_id: str, incident_id: str) -> builtins.list[Event]:
        return list(self.store.events.get((org_id, incident_id), []))

    def by_room(self, org_id: str, platform: str, room_id: str) -> IncidentState | None:
        return None


@dataclass
class Directory:
    orgs: dict[str, Org] = field(default_factory=dict)
    projects_: dict[tuple[str, str], Project] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def org(self, name_or_id: str) -> Org | None:
        return self.orgs.get(name_or_id)

    def project(self, org_id: str, name_or_id: str) -> Project | None:
        return next((p for (o, _i), p in self.projects_.items() if o == org_id and name_or_id in (p.id, p.name)),
                    None)

    def projects(self, org_id: str) -> list[Project]:
        return [p for (o, _i), p in self.projects_.items() if o == org_id]

    def role_of(self, org_id: str, user: str) -> OrgRole | None:
        return OrgRole.ADMIN

    def display_names(self, org_id: str) -> dict[str, str]:
        return dict(self.names)


class Ledger:
    """DeliverySteps and DeliveryClaims in memory: the first record of a step stands; claims always held."""

    def __init__(self) -> None:
        self.done: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def steps(self, org_id: str, key: str) -> dict[str, dict[str, Any]]:
        return dict(self.done.get((org_id, key), {}))

    def record(self, org_id: str, key: str, step: str, value: dict[str, Any]) -> dict[str, Any]:
        return self.done.setdefault((org_id, key), {}).setdefault(step, value)

    def claim(self, org_id: str, key: str) -> AbstractContextManager[bool]:
        @contextmanager
        def held() -> Iterator[bool]:
            yield True

        return held()


@dataclass
class World:
    """A core wired to fakes: one org, optionally a project."""

    store: Store = field(default_factory=Store)
    directory: Directory = field(default_factory=Directory)
    ledger: Ledger = field(default_factory=Ledger)
    clock: Clock = field(default_factory=Clock)
    org_id: str = "org-1"

    def __post_init__(self) -> None:
        self.directory.orgs[self.org_id] = Org(id=self.org_id, name="acme")
        self.deps = Deps(uow=Uow(self.store), directory=self.directory, clock=self.clock, ids=Ids())
        self.queries = Queries(self.store)
        self.deliveries = Deliveries(self.ledger, self.ledger)

    def org_settings(self, settings: dict[str, Any]) -> None:
        self.directory.orgs[self.org_id] = Org(id=self.org_id, name="acme", settings=settings)

    def project(self, name: str, **settings: Any) -> str:
        project = Project(id=f"p-{name}", org_id=self.org_id, name=name, settings=dict(settings))
        self.directory.projects_[(self.org_id, project.id)] = project
        return project.id

    def state(self, incident_id: str) -> IncidentState:
        found = self.queries.get(self.org_id, incident_id)
        assert found is not None
        return found


@dataclass
class FakeChat:
    """A chat platform that remembers what it was asked to do."""

    platform: str
    opened: list[RoomPlan] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    posts: list[tuple[str, str]] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    blocked: str | None = None

    def open_room(self, state: IncidentState, view: warroom.WarRoom, plan: RoomPlan, steps: Steps) -> OpenedRoom:
        self.opened.append(plan)
        return OpenedRoom(room_id=f"{self.platform}-room-{state.number}", name=view.human_id,
                          message_id=f"{self.platform}-msg-{state.number}")

    def refresh(self, room_id: str, message_id: str, view: warroom.WarRoom) -> None:
        self.refreshed.append(room_id)

    def post(self, room_id: str, content: rt.Rich, *, thread_id: str | None = None) -> str:
        self.posts.append((room_id, content.plain()))
        return f"post-{len(self.posts)}"

    def archive(self, room_id: str) -> None:
        self.archived.append(room_id)

    def cannot_open(self, state: IncidentState) -> str | None:
        return self.blocked

    def post_guidance(self, state: IncidentState, room: RoomRef, guidance: Guidance, *, trigger: str,
                      batch_id: str) -> Posted:
        self.posts.append((room.room_id, f"guidance {batch_id} ({len(guidance.suggestions)} steps, {trigger})"))
        return {"id": f"post-{len(self.posts)}"}

    def post_notice(self, state: IncidentState, room: RoomRef, content: rt.Rich, *, key: str,
                    snooze: str | None) -> Posted:
        self.posts.append((room.room_id, content.plain()))
        return {"id": f"post-{len(self.posts)}"}


def plugin(chat: FakeChat, label: str, *, bound: bool = True) -> PlatformPlugin:
    return PlatformPlugin(name=chat.platform, label=label, chat_for=lambda _org: chat if bound else None)


@dataclass
class Msg:
    """An outbox message as a subscriber sees it."""

    org_id: str
    payload: dict[str, Any]
    key: str = "k"
    attempts: int = 0
    topic: str = "incident.changed"


class NoGuidance:
    """A guidance source that finds nothing to suggest (`retrieved`: sections its search returned)."""

    def __init__(self, retrieved: int = 0, *, knows: bool = True) -> None:
        self.requests: list[GuidanceRequest] = []
        self.retrieved = retrieved
        self.knows = knows  # False: the org has nothing indexed
        self.asked: list[str] = []

    def has_knowledge(self, org_id: str) -> bool:
        self.asked.append(org_id)
        return self.knows

    def guide(self, request: GuidanceRequest) -> Guidance:
        self.requests.append(request)
        return Guidance(nothing_found=True, message="nothing matches yet", retrieved=self.retrieved)


class Index:
    """The knowledge loop's index: what was written."""

    def __init__(self) -> None:
        self.incidents: list[tuple[str, str | None]] = []
        self.postmortems: list[tuple[str, str, str | None, str | None]] = []

    def index_incident(self, state: IncidentState, events: Sequence[Event], *, project: str | None) -> int:
        self.incidents.append((state.human_id, project))
        return 1

    def index_postmortem(self, org_id: str, doc_id: str, title: str, markdown: str, *, project: str | None,
                         service: str | None) -> int:
        self.postmortems.append((doc_id, markdown, project, service))
        return 2


class Health:
    def __init__(self) -> None:
        self.failures: list[BaseException] = []
        self.ok = 0

    def failed(self, exc: BaseException) -> None:
        self.failures.append(exc)

    def succeeded(self) -> None:
        self.ok += 1
