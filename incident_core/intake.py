"""Signal intake: route each normalized signal to its project, then correlate and record it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from incident_core import richtext as rt
from incident_core.errors import NotFound
from incident_core.ingest import GroupingPolicy, IngestOutcome, ingest_batch
from incident_core.routing import ProjectPolicy, RoutingConfig, load_routing, routing_labels
from incident_core.signals import Signal
from incident_core.usecases import Deps


def routing_config(*, deps: Deps, org_id: str) -> RoutingConfig | None:
    """The org's routing rules (org settings `routing`), or None when it routes nothing."""
    org = deps.directory.org(org_id)
    if org is None:
        raise NotFound(f"no org {org_id!r}")
    raw = org.config.routing
    return load_routing(raw) if raw else None


Batch = list[tuple[Signal, GroupingPolicy]]
# Writes one org's routed signals and returns their outcomes in order (ingest_batch, or a GroupCommit's submit).
Writer = Callable[[str, Batch], Sequence[IngestOutcome]]


def intake_signals(*, deps: Deps, org_id: str, signals: list[Signal], token_project_id: str | None = None,
                   write: Writer | None = None) -> list[IngestOutcome]:
    """Route (a project-bound token wins over label matchers), then correlate and record every signal of
    the delivery in one transaction (`write` may share it with concurrent deliveries of the org)."""
    config = routing_config(deps=deps, org_id=org_id)
    projects = {p.name: p for p in deps.directory.projects(org_id)} if config or token_project_id else {}
    by_id = {p.id: p for p in projects.values()}
    batch: Batch = []
    for signal in signals:
        policy = ProjectPolicy(name="")
        project_id = token_project_id
        if token_project_id and token_project_id in by_id and config:
            policy = config.policy_for(by_id[token_project_id].name)
        elif config and not token_project_id:
            name = config.route(routing_labels(signal))
            policy = config.policy_for(name)
            project = projects.get(name)
            if project is None:
                raise NotFound(rt.doc(rt.para(f"routing names project {name!r}, which does not exist in this org; "
                                              "load the routing config again with ", rt.code("revenant org config"))))
            project_id = project.id
        same = signal.org_id == org_id and signal.project_id == project_id  # as the webhook normalized it
        routed = signal if same else signal.placed(org_id=org_id, project_id=project_id)
        batch.append((routed, GroupingPolicy(window=policy.grouping_window, min_severity=policy.min_severity,
                                             sender_groups=policy.sender_groups)))
    if write is not None:
        return list(write(org_id, batch))
    return ingest_batch(deps=deps, org_id=org_id, batch=batch)
