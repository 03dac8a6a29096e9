"""The per-process state cache is only a guess: stale guesses never lose, duplicate or refuse anything.

Two App objects on one database stand for two processes, each with its own cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.errors import InvalidTransition
from incident_core.model import IncidentRole, Severity, Status
from incident_core.state import IncidentState
from storage.state_cache import StateCache
from tests.conftest import make_app
from tests.helpers import World, declare, new_org


@pytest.fixture
def other(db_url: str, tmp_path: Path) -> Iterator[App]:
    """A second process's app on the same database."""
    built = make_app(db_url, tmp_path)
    yield built
    built.close()


def _twin(world: World, other: App) -> World:
    org = other.directory.org(world.org.id)
    assert org is not None
    return World(app=other, org=org)


def test_appends_from_a_stale_guess_retry_and_lose_nothing(app: App, other: App) -> None:
    a = new_org(app)
    b = _twin(a, other)
    inc = declare(a).state
    uc.add_note(deps=a.deps, org_id=a.org.id, incident_id=inc.incident_id, actor="u:a", text="a1")  # a caches v2
    uc.add_note(deps=b.deps, org_id=b.org.id, incident_id=inc.incident_id, actor="u:b", text="b1")  # now v3
    uc.add_note(deps=a.deps, org_id=a.org.id, incident_id=inc.incident_id, actor="u:a", text="a2")  # guess v2: stale
    timeline = app.queries.timeline(a.org.id, inc.incident_id)
    assert [getattr(e, "text", None) for e in timeline] == [None, "a1", "b1", "a2"]
    assert [e.version for e in timeline] == [1, 2, 3, 4]
    assert app.deps.uow.cache.get(a.org.id, inc.incident_id).version == 4  # type: ignore[attr-defined,union-attr]


def test_a_stale_guess_does_not_repeat_a_change_made_elsewhere(app: App, other: App) -> None:
    a = new_org(app)
    b = _twin(a, other)
    inc = declare(a).state  # a caches status investigating
    uc.change_status(deps=b.deps, org_id=b.org.id, incident_id=inc.incident_id, actor="u:b",
                     status=Status.IDENTIFIED)
    with pytest.raises(InvalidTransition, match="already identified"):
        uc.change_status(deps=a.deps, org_id=a.org.id, incident_id=inc.incident_id, actor="u:a",
                         status=Status.IDENTIFIED)
    types = [e.type_name for e in app.queries.timeline(a.org.id, inc.incident_id)]
    assert types.count("StatusChanged") == 1


def test_a_stale_guess_never_refuses_what_the_current_state_allows(app: App, other: App) -> None:
    a = new_org(app)
    b = _twin(a, other)
    inc = declare(a, severity=Severity.SEV2).state  # a caches SEV2
    uc.change_severity(deps=b.deps, org_id=b.org.id, incident_id=inc.incident_id, actor="u:b",
                       severity=Severity.SEV3)
    # On the guess SEV2 -> SEV2 is refused; on the current state SEV3 -> SEV2 is a real change.
    result = uc.change_severity(deps=a.deps, org_id=a.org.id, incident_id=inc.incident_id, actor="u:a",
                                severity=Severity.SEV2)
    assert result.state.severity is Severity.SEV2
    assert app.queries.get(a.org.id, inc.incident_id).severity is Severity.SEV2  # type: ignore[union-attr]


def test_cached_state_equals_what_the_database_holds(app: App) -> None:
    w = new_org(app)
    inc = declare(w).state
    uc.assign_role(deps=w.deps, org_id=w.org.id, incident_id=inc.incident_id, actor="u:alice",
                   role=IncidentRole.COMMANDER, assignee="u:carol")
    uc.change_status(deps=w.deps, org_id=w.org.id, incident_id=inc.incident_id, actor="u:alice",
                     status=Status.MITIGATED, note="rolled back")
    cached = app.deps.uow.cache.get(w.org.id, inc.incident_id)  # type: ignore[attr-defined]
    stored = app.queries.get(w.org.id, inc.incident_id)
    assert cached is not None and cached == stored
    assert IncidentState.from_dict(cached.to_dict()) == cached


def test_one_orgs_cache_entry_never_answers_for_another_org(app: App) -> None:
    a, b = new_org(app), new_org(app)
    inc = declare(a).state
    assert app.deps.uow.cache.get(a.org.id, inc.incident_id) is not None  # type: ignore[attr-defined]
    with app.deps.uow(b.org.id) as tx:
        assert tx.cached(inc.incident_id) is None
        assert tx.load(inc.incident_id) is None  # and the database hides it too
    with pytest.raises(Exception, match="no incident"):
        uc.add_note(deps=b.deps, org_id=b.org.id, incident_id=inc.incident_id, actor="u:x", text="cross")
    assert len(app.queries.timeline(a.org.id, inc.incident_id)) == 1


def test_a_failed_transaction_evicts_what_it_touched(app: App) -> None:
    w = new_org(app)
    inc = declare(w).state
    cache = app.deps.uow.cache  # type: ignore[attr-defined]
    assert cache.get(w.org.id, inc.incident_id) is not None
    with pytest.raises(RuntimeError), app.deps.uow(w.org.id) as tx:
        tx.load(inc.incident_id)
        raise RuntimeError("boom")
    assert cache.get(w.org.id, inc.incident_id) is None


def test_lru_keeps_the_newest_version_and_stays_bounded(app: App) -> None:
    w = new_org(app)
    first = declare(w).state
    second = uc.add_note(deps=w.deps, org_id=w.org.id, incident_id=first.incident_id, actor="u", text="x").state
    cache = StateCache(size=2)
    cache.put(second)
    cache.put(first)  # older version of the same incident: ignored
    assert cache.get(w.org.id, first.incident_id) == second
    for _ in range(3):
        cache.put(declare(w).state)
    assert len(cache) == 2 and cache.get(w.org.id, first.incident_id) is None
