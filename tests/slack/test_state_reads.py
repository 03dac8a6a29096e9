"""A delivered `incident.changed` reads the incident's state once for all its subscribers (recurrence, rooms,
guidance, drafts) — on PostgreSQL not at all, the claim read it — and the war room still ends on the last state
when another process changes the incident in the middle of a delivery (real subscribers, the real outbox, the Slack
emulator; SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from bot.bootstrap import App, bootstrap
from bot.worker import deliver_once
from emulators.slack import SlackEmulator
from incident_core.state import IncidentState
from storage.outbox import PendingMessage
from storage.queries import SqlIncidentQueries
from tests.slack.test_refresh_burst import alert, drain, room_of, shows, war_room, world

__all__ = ["world"]  # the fixture, shared with the burst tests


class CountedReads(SqlIncidentQueries):
    """The store's state reads of one org, counted (the shared database may hold other tests' orgs, which a
    pass delivers too); `after_read` runs once, after the org's next read (another process's write, say)."""

    def __init__(self, queries: SqlIncidentQueries, org_id: str) -> None:
        super().__init__(queries.engine)
        self.org_id = org_id
        self.reads = 0
        self.after_read: Callable[[], None] | None = None

    def get(self, org_id: str, ref: str) -> IncidentState | None:
        state = super().get(org_id, ref)
        if org_id != self.org_id:
            return state
        self.reads += 1
        if self.after_read is not None:
            hook, self.after_read = self.after_read, None
            hook()
        return state


def counted(app: App, org_id: str) -> CountedReads:
    """Count the org's reads behind the subscribers' snapshots (before the app builds them)."""
    assert "delivery_states" not in app.__dict__
    app.queries = CountedReads(app.queries, org_id)
    return app.queries


def after_snapshot(app: App, store: CountedReads, hook: Callable[[], None]) -> None:
    """Run `hook` once, right after the next delivery's snapshot of the org's incident is taken: after its first
    state read, or on PostgreSQL after the claim that read it."""
    if app.engine.dialect.name != "postgresql":
        store.after_read = hook
        return
    claim, release_then_claim = app.outbox.claim, app.outbox.release_then_claim

    def claimed(msg: PendingMessage | None) -> PendingMessage | None:
        if msg is not None and msg.org_id == store.org_id and msg.prefetched is not None:
            app.outbox.claim, app.outbox.release_then_claim = claim, release_then_claim  # type: ignore[method-assign]
            hook()
        return msg

    app.outbox.claim = lambda *a, **k: claimed(claim(*a, **k))  # type: ignore[method-assign]
    app.outbox.release_then_claim = lambda *a, **k: (  # type: ignore[method-assign]
        lambda done: (done[0], claimed(done[1])))(release_then_claim(*a, **k))


def test_one_refresh_reads_the_incident_once_for_every_subscriber(world: tuple[App, str],
                                                                  slack: SlackEmulator) -> None:
    app, org = world
    store = counted(app, org)
    incident = alert(app, org, 0)
    drain(app, org)  # the room opens: the read after the room's claim and the one after recording it go to the store
    channel = room_of(app, org, incident)
    assert alert(app, org, 1) == incident
    store.reads = 0
    assert app.outbox.pending(org) == 1
    deliver_once(app)
    assert app.outbox.pending(org) == 0
    # recurrence, the room keeper (twice), guidance (twice) and the drafter: one read, or the claim's on PostgreSQL
    assert store.reads == (0 if app.engine.dialect.name == "postgresql" else 1)
    assert shows(war_room(slack, channel)[-1], 1)


def test_a_change_from_another_process_during_a_delivery_is_rendered_by_its_own_message(
        world: tuple[App, str], slack: SlackEmulator) -> None:
    app, org = world
    store = counted(app, org)
    incident = alert(app, org, 0)
    drain(app, org)
    channel = room_of(app, org, incident)
    other = bootstrap(app.settings, migrate=False)  # another process: its own connections and state cache
    try:
        alert(app, org, 1)
        shown = len(war_room(slack, channel))

        def another_process_changes_it() -> None:  # right after this delivery's snapshot is read
            alert(other, org, 2)

        after_snapshot(app, store, another_process_changes_it)
        drain(app, org)
        renders = war_room(slack, channel)[shown:]
        assert len(renders) == 2 and shows(renders[0], 1)  # the delivery rendered its snapshot, and the change
        assert shows(renders[1], 2)  # made meanwhile came with a message of its own: the last state wins
    finally:
        other.close()
