"""The directory remembers orgs and verified tokens briefly; expiry and its own changes still apply at once."""

from __future__ import annotations

import time
from datetime import timedelta

from bot.bootstrap import App
from storage.directory import SqlDirectory
from tests.helpers import new_org


def test_a_remembered_token_stops_working_when_its_grace_period_ends(app: App) -> None:
    w = new_org(app)
    old = app.directory.issue_token(w.org.id)
    app.directory.rotate_token(w.org.id, grace=timedelta(seconds=1))
    assert app.directory.authenticate_token(old) is not None  # now remembered, with its expiry
    time.sleep(1.1)
    assert app.directory.authenticate_token(old) is None


def test_settings_changed_here_are_seen_at_once_and_elsewhere_within_the_cache_time(app: App) -> None:
    w = new_org(app)
    here = SqlDirectory(app.engine, cache_seconds=0.3)
    elsewhere = SqlDirectory(app.engine)  # another process's directory
    assert here.org(w.org.id).settings == {}  # type: ignore[union-attr]  # now remembered
    here.update_org_settings(w.org.id, {"routing": {"default": "payments"}})
    assert here.org(w.org.id).settings == {"routing": {"default": "payments"}}  # type: ignore[union-attr]
    elsewhere.update_org_settings(w.org.id, {"routing": {"default": "checkout"}})
    assert here.org(w.org.name).settings == {"routing": {"default": "checkout"}}  # type: ignore[union-attr]
    time.sleep(0.35)
    assert here.org(w.org.id).settings == {"routing": {"default": "checkout"}}  # type: ignore[union-attr]


def test_the_cache_peek_never_reads_and_forgets_a_token_another_process_revoked(app: App) -> None:
    w = new_org(app)
    token = app.directory.issue_token(w.org.id)
    here = SqlDirectory(app.engine, cache_seconds=0.3)
    assert here.cached_token(token) is None  # not verified yet: the peek cannot say
    assert here.authenticate_token(token) is not None
    assert here.cached_token(token) is not None
    assert here.cached_token(token + "x") is None and here.cached_token("not-a-token") is None
    SqlDirectory(app.engine).rotate_token(w.org.id, grace=timedelta(0))  # another process revokes it
    time.sleep(0.35)
    assert here.cached_token(token) is None
    assert here.authenticate_token(token) is None
