"""Signal ingestion: correlate a normalized signal and record the decision, idempotently."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypedDict, cast

from incident_core import all_clear
from incident_core import commands as cmd
from incident_core import events as ev
from incident_core.aggregate import MAX_TITLE, decide
from incident_core.candidates import BatchCandidates
from incident_core.correlation import (
    DEFAULT_MIN_SEVERITY,
    DEFAULT_WINDOW,
    CorrelationAction,
    CorrelationDecision,
    correlate,
)
from incident_core.errors import ConcurrencyConflict
from incident_core.model import Status
from incident_core.ports import SignalTransaction
from incident_core.richtext import clip
from incident_core.signals import GROUP_KEY, Signal, SignalSeverity
from incident_core.state import apply_all
from incident_core.usecases import MAX_ATTEMPTS, Deps, back_off, changed_message


class _Envelope(TypedDict):
    """The part of a signal's command that is the same whatever is decided."""

    org_id: str
    actor: str
    occurred_at: datetime


@dataclass(frozen=True)
class GroupingPolicy:
    """A project's correlation settings."""

    window: timedelta = DEFAULT_WINDOW
    min_severity: SignalSeverity = DEFAULT_MIN_SEVERITY
    sender_groups: bool = True  # a sender's own group (Alertmanager/Grafana groupKey) is one incident


@dataclass(frozen=True)
class IngestOutcome:
    """What became of one signal."""

    fingerprint: str
    action: CorrelationAction
    incident_id: str | None
    human_id: str | None
    reason: str
    opened: bool = False
    duplicate: bool = False


def signal_stream(org_id: str, fingerprint: str) -> str:
    """The decision-log stream of a signal that joined no incident."""
    digest = hashlib.sha256(f"{org_id}:{fingerprint}".encode()).hexdigest()[:40]
    return f"{ev.SIGNAL_STREAM_PREFIX}{digest}"


def ingest_signal(*, deps: Deps, signal: Signal, policy: GroupingPolicy, actor: str | None = None) -> IngestOutcome:
    """Attach, open, update or ignore — one transaction, absorbed if this delivery was seen before."""
    return ingest_batch(deps=deps, org_id=signal.org_id, batch=[(signal, policy)], actor=actor)[0]


def ingest_batch(*, deps: Deps, org_id: str, batch: Sequence[tuple[Signal, GroupingPolicy]],
                 actor: str | None = None) -> list[IngestOutcome]:
    """Decide and record every signal of one delivery (or of coalesced deliveries) in one transaction.

    Outcomes come back in the order of `batch`, only once the transaction has committed. A signal whose
    delivery was recorded before, or that repeats an earlier one of the same batch, is absorbed.
    """
    if any(signal.org_id != org_id for signal, _ in batch):
        raise PermissionError("a batch holds the signals of one org only")
    if not batch:
        return []
    # Every key of the batch is locked up front, in one sorted order: two batches sharing keys queue
    # behind each other instead of deadlocking half-way.
    keys = sorted({k for signal, _ in batch for k in signal.correlation_keys})
    for attempt in range(MAX_ATTEMPTS):
        if attempt > 1:  # the first retry is the duplicate check, not a lost race
            back_off(attempt)
        try:
            with deps.uow(org_id) as raw_tx:
                tx = cast(SignalTransaction, raw_tx)
                tx.lock_keys(keys)
                return _record_batch(deps, tx, batch, actor, look_first=attempt > 0)
        except ConcurrencyConflict:
            continue
    raise ConcurrencyConflict("too many concurrent updates for these signals; the sender should retry")


def _record_batch(deps: Deps, tx: SignalTransaction, batch: Sequence[tuple[Signal, GroupingPolicy]],
                  actor: str | None, *, look_first: bool) -> list[IngestOutcome]:
    # A new delivery is the common case: the first attempt relies on the unique idempotency key to catch
    # a duplicate (it surfaces as a conflict, and the whole batch is retried); retries look first.
    seen: dict[str, IngestOutcome] = {}
    outcomes = []
    pool = BatchCandidates(tx, [signal for signal, _ in batch])
    # The states of the incidents the signals will join, read in one go (the transaction answers from its
    # cache those it holds at the version just read): the decisions as the batch starts, before it moves them.
    # The first signal's stands (nothing has moved yet); the others are decided again in turn. When every
    # candidate's state is at hand already (the usual case in a process that wrote them), nothing would be
    # read, so only the first decision is made up front.
    now = deps.clock.now()
    first_decision = _decision(pool, batch[0][0], batch[0][1], now)
    if not _all_candidates_known(tx, batch):
        planned = [first_decision, *(_decision(pool, signal, policy, now) for signal, policy in batch[1:])]
        tx.prefetch([d.incident_id for d in planned if d.incident_id is not None])
    for index, (signal, policy) in enumerate(batch):
        key = f"signal:{signal.delivery_key}"
        if key in seen:
            first = seen[key]
            outcomes.append(replace(first, opened=False, duplicate=True,
                                    reason=f"duplicate delivery absorbed (first: {first.reason})"))
            continue
        prior = tx.recorded(key) if look_first else None
        if prior is not None:
            incident = tx.load(prior[0].incident_id) if ev.is_incident_stream(prior[0].incident_id) else None
            outcome = _duplicate(signal, prior, incident.human_id if incident else None)
        else:
            outcome = _decide_and_record(deps, tx, pool, signal, policy, key, actor or f"signal:{signal.source}",
                                         planned=(now, first_decision) if index == 0 else None)
        seen[key] = outcome
        outcomes.append(outcome)
    return outcomes


def _all_candidates_known(tx: SignalTransaction, batch: Sequence[tuple[Signal, GroupingPolicy]]) -> bool:
    """True when planning the whole batch would prefetch nothing: one project (whose candidates the first
    decision just looked up) and every candidate's state already at hand. Only the prefetch uses the plan
    beyond its first decision, so the batch then skips it (each signal is decided again in turn anyway)."""
    project = batch[0][0].project_id
    return all(signal.project_id == project for signal, _ in batch) and tx.candidates_known()


def _duplicate(signal: Signal, prior: list[ev.Event], human_id: str | None) -> IngestOutcome:
    last = prior[-1]
    incident_id = last.incident_id if human_id else None
    reason = getattr(last, "reason", "")
    return IngestOutcome(fingerprint=signal.fingerprint, action=CorrelationAction.IGNORE if incident_id is None
                         else CorrelationAction.ATTACH, incident_id=incident_id, human_id=human_id,
                         reason=f"duplicate delivery absorbed (first: {reason})", duplicate=True)


def _as_policy_sees(signal: Signal, policy: GroupingPolicy) -> Signal:
    if policy.sender_groups:
        return signal
    # the batch locked the sender-group keys too: harmless, and never fewer than needed
    return replace(signal, correlation_keys=tuple(k for k in signal.correlation_keys
                                                  if not k.startswith(f"{GROUP_KEY}=")))


def _decision(pool: BatchCandidates, signal: Signal, policy: GroupingPolicy, now: datetime) -> CorrelationDecision:
    # Every open incident holding a key is a candidate; the policy applies the window itself so its
    # reason can say "INC-4 shares service=api but its last signal is older than 30 min".
    signal = _as_policy_sees(signal, policy)
    return correlate(signal, pool.for_signal(signal), now=now, window=policy.window, min_severity=policy.min_severity)


def _decide_and_record(deps: Deps, tx: SignalTransaction, pool: BatchCandidates, signal: Signal,
                       policy: GroupingPolicy, key: str, who: str,
                       planned: tuple[datetime, CorrelationDecision] | None) -> IngestOutcome:
    if planned is None:
        now = deps.clock.now()
        planned = now, _decision(pool, signal, policy, now)
    now, decision = planned
    signal = _as_policy_sees(signal, policy)
    data = signal.to_dict()
    if signal.raw_ref is not None and signal.payload is not None:
        tx.keep_payload(signal.raw_ref.payload, signal.payload)  # once per delivery and transaction
    base = _Envelope(org_id=signal.org_id, actor=who, occurred_at=now)
    if decision.action is CorrelationAction.IGNORE:
        stream = signal_stream(signal.org_id, signal.fingerprint)
        version = tx.stream_version(stream)
        tx.append_log([ev.SignalIgnored(**base, incident_id=stream, version=version + 1, signal=data,
                                        reason=decision.reason)], idempotency_key=key)
        return IngestOutcome(signal.fingerprint, decision.action, None, None, decision.reason)
    if decision.action is CorrelationAction.OPEN:
        number = tx.next_incident_number()
        incident_id = deps.ids.new_id()
        reason = f"opened INC-{number}: {decision.reason.removeprefix('opened a new incident: ')}"
        declared = decide(None, cmd.DeclareIncident(
            **base, incident_id=incident_id, number=number, title=clip(signal.title, MAX_TITLE) or "untitled signal",
            severity=signal.severity.to_incident_severity(), status=Status.TRIGGERED,
            project_id=signal.project_id, source=f"signal:{signal.source}", summary=signal.description[:500]))
        state = apply_all(None, declared)
        attached = decide(state, cmd.AttachSignal(**base, incident_id=incident_id, signal=data, reason=reason))
        events = declared + attached
        state = apply_all(state, attached)
        assert state is not None
        tx.append(events, expected_version=0, state=state, idempotency_key=key,
                  outbox=[changed_message(state, events)])
        pool.recorded(signal, state, attached=True, at=now)
        return IngestOutcome(signal.fingerprint, decision.action, incident_id, state.human_id, reason, opened=True)
    assert decision.incident_id is not None
    current = tx.load(decision.incident_id)
    if current is None:
        raise ConcurrencyConflict("incident vanished while correlating")
    if decision.action is CorrelationAction.ATTACH:
        command: cmd.Command = cmd.AttachSignal(**base, incident_id=current.incident_id, signal=data,
                                                reason=decision.reason, matched_key=decision.matched_key)
    else:
        command = cmd.ResolveSignal(**base, incident_id=current.incident_id, fingerprint=signal.fingerprint,
                                    title=signal.title, reason=decision.reason,
                                    ended_at=signal.ends_at.isoformat() if signal.ends_at else None,
                                    source=signal.source, note=signal.description[:300])
    events = decide(current, command)
    state = apply_all(current, events)
    assert state is not None
    outbox = [changed_message(state, events)]
    if any(isinstance(e, ev.AllClearReached) for e in events):
        outbox.append(all_clear.notice(state))
    tx.append(events, expected_version=current.version, state=state, idempotency_key=key, outbox=outbox)
    pool.recorded(signal, state, attached=decision.action is CorrelationAction.ATTACH, at=now)
    return IngestOutcome(signal.fingerprint, decision.action, current.incident_id, current.human_id, decision.reason)
