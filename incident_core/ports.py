"""Ports: the Protocols storage/, knowledge/, publishers/ and the chat adapters implement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from incident_core.candidate_bound import RecentCandidates
from incident_core.correlation import OpenIncident
from incident_core.events import Event
from incident_core.model import OrgRole
from incident_core.org_settings import OrgSettings, ProjectSettings
from incident_core.state import IncidentState


@dataclass(frozen=True)
class OutboxMessage:
    """A side effect to deliver after the transaction commits (at least once, keyed)."""

    topic: str
    payload: dict[str, Any]
    key: str


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    default_role: OrgRole = OrgRole.RESPONDER
    settings: dict[str, Any] = field(default_factory=dict)  # the stored document; read it through `config`

    @cached_property
    def config(self) -> OrgSettings:
        """The settings, typed by section (parsed once per Org: the directory keeps an org for many deliveries,
        and every delivery's intake reads its routing; a changed document is a new Org)."""
        return OrgSettings.from_dict(self.settings)


@dataclass(frozen=True)
class Project:
    id: str
    org_id: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)  # the stored document; read it through `config`

    @property
    def config(self) -> ProjectSettings:
        """The settings, typed."""
        return ProjectSettings.from_dict(self.settings)


class IncidentTransaction(Protocol):
    """One unit of work scoped to one org."""

    def load(self, incident_id: str) -> IncidentState | None: ...

    def cached(self, incident_id: str) -> IncidentState | None:
        """A recent guess at the state, or None. Only decisions that then append may use it: the
        append carries the guess's version and fails with ConcurrencyConflict if it was stale."""
        ...

    def next_incident_number(self) -> int: ...

    def recorded(self, idempotency_key: str) -> list[Event] | None:
        """The events first written under this key, or None if it is new."""
        ...

    def append(
        self,
        events: Sequence[Event],
        *,
        expected_version: int,
        state: IncidentState,
        idempotency_key: str | None = None,
        outbox: Sequence[OutboxMessage] = (),
    ) -> None:
        """Write events, the new projection row and outbox rows; ConcurrencyConflict on a clash."""
        ...


class SignalTransaction(IncidentTransaction, Protocol):
    """The extra reads and writes signal correlation needs, in the same unit of work."""

    def lock_keys(self, keys: Sequence[str]) -> None:
        """Serialize correlation decisions that share a key (until the transaction ends)."""
        ...

    def open_incidents(self, keys: Sequence[str], *, project_id: str | None,
                       since: datetime | None) -> list[OpenIncident]:
        """Open incidents of this org (and project) holding any of `keys`, seen since `since`."""
        ...

    def recent_candidates(self, keys: Sequence[str], *, project_id: str | None, per_key: int) -> RecentCandidates:
        """Per key, the `per_key` open incidents of this org (and project) that saw it last, each with its hits
        among all of `keys`; takes the locks asked by lock_keys first, if still pending."""
        ...

    def prefetch(self, incident_ids: Sequence[str]) -> None:
        """Read these incidents' states in one go; later loads in this transaction answer from them."""
        ...

    def candidates_known(self) -> bool:
        """True when every incident the candidate lookups returned so far loads without a read (its state is
        held at the version the lookup saw), so a prefetch of any of them would read nothing."""
        ...

    def stream_version(self, stream_id: str) -> int:
        """The last version written to a stream (0 when empty)."""
        ...

    def append_log(self, events: Sequence[Event], *, idempotency_key: str | None = None) -> None:
        """Append to a non-incident stream (a signal's decision log); no incident projection."""
        ...

    def keep_payload(self, payload_id: str, payload: Mapping[str, Any] | Sequence[Any]) -> None:
        """Store a delivery's raw payload once (by its id) with the signals that reference it."""
        ...


class UnitOfWork(Protocol):
    def __call__(self, org_id: str) -> AbstractContextManager[IncidentTransaction]: ...


class IncidentQueries(Protocol):
    """Read side, always scoped by org."""

    def get(self, org_id: str, ref: str) -> IncidentState | None:
        """By id or human id (INC-42)."""
        ...

    def list_incidents(self, org_id: str, *, open_only: bool = False, limit: int = 100) -> list[IncidentState]: ...

    def timeline(self, org_id: str, incident_id: str) -> list[Event]: ...

    def by_room(self, org_id: str, platform: str, room_id: str) -> IncidentState | None:
        """The incident a chat room belongs to (None outside incident rooms)."""
        ...


class Directory(Protocol):
    """Orgs, projects and memberships."""

    def org(self, name_or_id: str) -> Org | None: ...

    def project(self, org_id: str, name_or_id: str) -> Project | None: ...

    def projects(self, org_id: str) -> list[Project]: ...

    def role_of(self, org_id: str, user: str) -> OrgRole | None: ...

    def display_names(self, org_id: str) -> dict[str, str]:
        """Member id (`slack:U123`) → display name, where known."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


class DeliverySteps(Protocol):
    """The recorded steps of a delivery that takes several calls to an outside system (keyed per org)."""

    def steps(self, org_id: str, key: str) -> dict[str, dict[str, Any]]:
        """Every step recorded for this delivery: step name → what it left (ids a retry needs)."""
        ...

    def record(self, org_id: str, key: str, step: str, value: dict[str, Any]) -> dict[str, Any]:
        """Record a step (the first record of a step wins); returns the value that stands."""
        ...


class DeliveryClaims(Protocol):
    """Who is doing a delivery right now, across processes (keyed per org, like its steps)."""

    def claim(self, org_id: str, key: str) -> AbstractContextManager[bool]:
        """Hold the delivery for the block (True), or False when a live process holds it.

        The claim is renewed while held; a claim whose holder died (killed process, lapsed
        lease) is taken over.
        """
        ...
