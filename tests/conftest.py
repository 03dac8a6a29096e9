"""Shared fixtures: embedded SQLite per test, one throwaway PostgreSQL database per run."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App, bootstrap
from bot.settings import Settings
from storage.scratch import admin_engine, scratch_database
from tests.outbox_guard import last_outbox_id, left_since, owner_engine, retire_left, retiring

# App-level tests exercise chat, storage and wiring, not semantics: they keep the fast hashing embedder.
# Knowledge tests build KnowledgeBase() directly and so get the shipped semantic model.
os.environ.setdefault("REVENANT_EMBEDDINGS", "hashing")
ADMIN_URL = os.environ.get("REVENANT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("REVENANT_REQUIRE_POSTGRES") == "1"
CHROMA_LEFT_OPEN: dict[str, set[str]] = {}  # test id -> Chroma stores it opened and left open


def open_chroma_stores() -> set[str]:
    """The Chroma stores (embedded paths, HTTP client ids) running in this process: each holds a Rust
    runtime's threads or a connection pool until its last client closes (KnowledgeBase.close, App.close).
    Chroma's cache also keeps entries of stopped systems (an HTTP client's admin client): not counted."""
    shared = sys.modules.get("chromadb.api.shared_system_client")  # not imported: nothing open
    systems = dict(shared.SharedSystemClient._identifier_to_system) if shared else {}
    return {identifier for identifier, system in systems.items() if system._running}


@pytest.fixture(autouse=True, scope="session")
def _chroma_stores_closed() -> Iterator[None]:
    """Fails the run (at its last teardown) when a test left a Chroma store open: ~800 runtime threads
    piled up in the test process before every knowledge base was closed."""
    yield
    still = {test: ids & open_chroma_stores() for test, ids in CHROMA_LEFT_OPEN.items()}
    still = {test: ids for test, ids in still.items() if ids}
    assert not still, f"Chroma stores left open (close the KnowledgeBase or App): {still}"


@pytest.fixture
def open_kb() -> Iterator[Callable[..., Any]]:
    """Opens knowledge bases (KnowledgeBase's arguments) that are closed when the test ends."""
    from knowledge.kb import KnowledgeBase

    opened: list[KnowledgeBase] = []

    def open_one(**kwargs: Any) -> KnowledgeBase:
        opened.append(KnowledgeBase(**kwargs))
        return opened[-1]

    yield open_one
    for kb in opened:
        kb.close()


@pytest.fixture(autouse=True)
def _note_chroma_stores_left_open(request: pytest.FixtureRequest) -> Iterator[None]:
    before = open_chroma_stores()
    yield
    if left := open_chroma_stores() - before:  # a session fixture's store is closed by the session's end
        CHROMA_LEFT_OPEN[request.node.nodeid] = left


def require_postgres() -> None:
    """Skip the test, or fail it under REVENANT_REQUIRE_POSTGRES=1, when the server is unreachable."""
    try:
        with admin_engine(ADMIN_URL).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (REVENANT_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")


def fresh_postgres(name: str) -> Iterator[str]:
    """A fresh, migrated database, dropped afterwards (see require_postgres when the server is unreachable)."""
    require_postgres()
    with scratch_database(ADMIN_URL, f"{name}_{os.getpid()}") as url:
        yield url


STRICT_OUTBOX = os.environ.get("REVENANT_OUTBOX_GUARD") == "strict"
SHARED_PG: dict[str, sa.Engine] = {}  # "owner": the run's shared database, as its owner (tests/outbox_guard.py)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated database for this run; dropped at the end."""
    for url in fresh_postgres("revenant_test"):
        SHARED_PG["owner"] = owner_engine(url)
        try:
            yield url
        finally:
            SHARED_PG.pop("owner").dispose()


@pytest.fixture(autouse=True)
def _no_outbox_messages_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Retires the undelivered outbox messages a test leaves in the shared PostgreSQL database (after its
    fixtures' teardowns: this fixture is set up first), so no later test's deliverer claims them. Under
    REVENANT_OUTBOX_GUARD=strict a test that leaves any also fails, naming them (tests/outbox_guard.py)."""
    owner = SHARED_PG.get("owner")
    start = last_outbox_id(owner) if owner is not None else 0  # the first test on PostgreSQL starts from none
    yield
    owner = SHARED_PG.get("owner")
    if owner is None:
        return
    left = left_since(owner, start)
    if left:
        retire_left(owner, start)
        if STRICT_OUTBOX:
            pytest.fail(f"{request.node.nodeid} left undelivered outbox messages in the shared PostgreSQL "
                        f"database {dict(left)}: retire them in its fixture's teardown (tests/outbox_guard.retiring)",
                        pytrace=False)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on embedded SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'revenant.db'}"
    url = request.getfixturevalue("postgres_url")
    forget_acked_requests(url)
    return url


def forget_acked_requests(url: str) -> None:
    """The run's PostgreSQL database is shared by its tests: requests an earlier test's server acknowledged
    but did not work belong to emulators that are gone, so no later test's server should claim them."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE acked_requests SET done_at = now(), error = 'abandoned by an earlier test' "
                                 "WHERE done_at IS NULL"))
    finally:
        engine.dispose()


def make_app(url: str, data_dir: Path, **overrides: object) -> App:
    settings = Settings(data_dir=data_dir, database_url=url)  # type: ignore[call-arg]
    if url.startswith("sqlite"):
        return bootstrap(settings, **overrides)
    return bootstrap(settings, migrate=False, **overrides)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    with retiring(db_url):
        built = make_app(db_url, tmp_path)
        yield built
        built.close()


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[App]:
    built = make_app(f"sqlite:///{tmp_path / 'revenant.db'}", tmp_path)
    yield built
    built.close()


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    with retiring(postgres_url):
        built = make_app(postgres_url, tmp_path)
        yield built
        built.close()


def unique(prefix: str = "org") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
