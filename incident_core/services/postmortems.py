"""Postmortem policy: draft once an incident is resolved, publish an approved postmortem to each target
(and say so in the rooms when it keeps failing), record each publication."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from incident_core import postmortem_usecases as pmu
from incident_core import richtext as rt
from incident_core.delivery import Deliveries, DeliveryBusy
from incident_core.errors import IncidentError
from incident_core.model import Status
from incident_core.ports import IncidentQueries
from incident_core.postmortem_model import LOCKED, PostmortemStatus, status_of
from incident_core.postmortem_render import document_of
from incident_core.publishing import Narrator, Publisher
from incident_core.services.messages import Message, incident_of
from incident_core.services.notices import NoticePosting
from incident_core.usecases import Deps

log = logging.getLogger("revenant.postmortem")
NOTIFY_ON_ATTEMPTS = (0, 3, 6)  # say so in the room on the 1st, 4th and 7th failure, not on every retry


class TargetMissing(IncidentError):
    """A postmortem is due at a target the org no longer publishes to."""


class AutoDrafter:
    """incident.changed → draft the postmortem once the incident is resolved (unless someone already did).

    The state decides, not the message's event types: refreshes of one incident coalesce, so the message
    that carried the status change may never be delivered on its own.
    """

    subscriber_name = "AutoDrafter"

    def __init__(self, *, deps: Deps, queries: IncidentQueries, narrator: Narrator | None) -> None:
        self.deps, self.queries, self.narrator = deps, queries, narrator

    def __call__(self, msg: Message) -> None:
        state = self.queries.get(msg.org_id, incident_of(msg))
        if state is None or state.status is not Status.RESOLVED:
            return
        if status_of(state) not in (None, PostmortemStatus.REVIEWING):
            return
        try:
            pmu.draft_postmortem(deps=self.deps, queries=self.queries, org_id=msg.org_id,
                                 incident_id=state.incident_id, actor=pmu.SYSTEM, narrator=self.narrator,
                                 check_role=False, announce=True, idempotency_key=f"pm-auto-draft:{state.incident_id}")
        except IncidentError as exc:
            log.info("no automatic draft for %s: %s", state.human_id, exc)


class PostmortemPublishing:
    """postmortem.publish → publish one approved postmortem to one target, then record it on the timeline."""

    subscriber_name = "PostmortemPublishing"

    def __init__(self, *, deps: Deps, queries: IncidentQueries, deliveries: Deliveries,
                 publisher_for: Callable[[str], Publisher], notices: Sequence[NoticePosting]) -> None:
        self.deps, self.queries, self.deliveries = deps, queries, deliveries
        self.publisher_for, self.notices = publisher_for, tuple(notices)

    def __call__(self, msg: Message) -> None:
        incident_id, target = incident_of(msg), str(msg.payload["target"])
        state = self.queries.get(msg.org_id, incident_id)
        if state is None or target in state.postmortem.published or status_of(state) not in LOCKED:
            return
        config = pmu.publish_targets(deps=self.deps, state=state).get(target)
        try:
            if config is None:
                raise TargetMissing(f"{target} is no longer configured for this org; add it back to the org's "
                                    "publishing settings (`revenant org config`)")
            # Claimed across processes: each publisher finds its earlier copy before creating one, and the
            # claim keeps two processes from both finding nothing and both creating.
            with self.deliveries.run(msg.org_id, f"publish:{target}:{incident_id}",
                                     f"{state.human_id}'s postmortem to {target}"):
                published = self.publisher_for(target).publish(
                    document_of(state, self.deps.directory.display_names(msg.org_id)), config)
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
        pmu.record_publication(deps=self.deps, org_id=msg.org_id, incident_id=incident_id, target=target,
                               url=published.url, ref=published.ref)

    def _tell(self, org_id: str, incident_id: str, key: str, content: rt.Rich) -> None:
        for notices in self.notices:  # best effort, in every room: the publish retry is what matters
            try:
                notices.post(org_id, incident_id, content, key=key)
            except Exception:  # noqa: BLE001
                log.exception("could not post a publishing notice on %s", notices.plugin.name)
