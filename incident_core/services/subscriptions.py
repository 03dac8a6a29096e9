"""Who reacts to each outbox topic: the application services, once per registered chat platform where the
work is per room. The composition root builds the collaborators; this table decides the policy."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from incident_core.delivery import Deliveries
from incident_core.guidance import FeedbackStats, GuidanceSource
from incident_core.guidance_usecases import TOPIC as GUIDANCE_TOPIC
from incident_core.history import ActionItemTracker, IncidentHistory
from incident_core.notices import NOTICE
from incident_core.ports import IncidentQueries
from incident_core.postmortem_usecases import PUBLISH
from incident_core.publishing import Narrator, Publisher
from incident_core.rooms import ARCHIVE_TOPIC
from incident_core.services.guidance import GuidanceHealth, GuidanceOfferer, GuidancePosting
from incident_core.services.knowledge_loop import KnowledgeIndex
from incident_core.services.messages import CHANGED, Subscriber, Subscriptions
from incident_core.services.notices import NoticePosting
from incident_core.services.platforms import PlatformPlugin
from incident_core.services.postmortems import AutoDrafter, PostmortemPublishing
from incident_core.services.recurrence import RecurrenceWatcher
from incident_core.services.rooms import RoomArchiver, RoomKeeper
from incident_core.usecases import Deps


@dataclass(frozen=True)
class Collaborators:
    """What the services run on: ports and factories, built by the composition root (slow ones lazily)."""

    deps: Deps
    queries: IncidentQueries
    deliveries: Deliveries
    guidance: Callable[[], GuidanceSource]
    knowledge: Callable[[], KnowledgeIndex]
    feedback: FeedbackStats | None
    health: GuidanceHealth
    publisher_for: Callable[[str], Publisher]
    narrator: Narrator | None
    history: IncidentHistory
    tracker_for: Callable[[str], ActionItemTracker | None]


def subscriptions(c: Collaborators, platforms: Iterable[PlatformPlugin]) -> Subscriptions:
    """The subscribers of every topic. Order within a topic is declared by each subscriber's `after`
    (rooms after the recurrence watcher, guidance after the rooms), not by this list."""
    plugins = list(platforms)
    subs: Subscriptions = {}

    def add(topic: str, fn: Subscriber) -> None:
        subs.setdefault(topic, []).append(fn)

    add(CHANGED, RecurrenceWatcher(deps=c.deps, queries=c.queries, history=c.history, tracker_for=c.tracker_for))
    keepers = [RoomKeeper(deps=c.deps, queries=c.queries, deliveries=c.deliveries, plugin=p) for p in plugins]
    for keeper in keepers:
        add(CHANGED, keeper)
    if plugins:  # guidance lives in rooms; the knowledge loop rides along with it
        add(CHANGED, GuidanceOfferer(deps=c.deps, queries=c.queries, source=c.guidance, index=c.knowledge,
                                     feedback=c.feedback, health=c.health,
                                     after=[k.subscriber_name for k in keepers]))
    add(CHANGED, AutoDrafter(deps=c.deps, queries=c.queries, narrator=c.narrator))
    notices = [NoticePosting(queries=c.queries, deliveries=c.deliveries, plugin=p) for p in plugins]
    for p, posting in zip(plugins, notices, strict=True):
        add(ARCHIVE_TOPIC, RoomArchiver(p))
        add(GUIDANCE_TOPIC, GuidancePosting(queries=c.queries, deliveries=c.deliveries, plugin=p))
        add(NOTICE, posting)
        for topic, fns in p.extra.items():
            for fn in fns:
                add(topic, fn)
    add(PUBLISH, PostmortemPublishing(deps=c.deps, queries=c.queries, deliveries=c.deliveries,
                                      publisher_for=c.publisher_for, notices=notices))
    return subs
