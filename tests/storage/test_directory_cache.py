"""The directory remembers orgs and verified tokens briefly; expiry and its own changes still apply at once."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from bot.bootstrap import App
from tests.conftest import make_app
from tests.helpers import new_org


def test_a_remembered_token_stops_working_when_its_grace_period_ends(app: App) -> None:
    w = new_org(app)
    old = app.directory.issue_token(w.org.id)
    app.directory.rotate_token(w.org.id, grace=timedelta(seconds=1))
    assert app.directory.authenticate_token(old) is not None  # now remembered, with its expiry
    time.sleep(1.1)
    assert app.directory.authenticate_token(old) is None


def test_settings_changed_here_are_seen_at_once_and_elsewhere_within_seconds(app: App, db_url: str,
                                                                              tmp_path: Path) -> None:
    w = new_org(app)
    assert app.directory.org(w.org.id).settings == {}  # type: ignore[union-attr]  # now remembered
    app.directory.update_org_settings(w.org.id, {"routing": {"default": "payments"}})
    assert app.directory.org(w.org.id).settings == {"routing": {"default": "payments"}}  # type: ignore[union-attr]
    other = make_app(db_url, tmp_path / "other")  # another process's directory
    try:
        other.directory.update_org_settings(w.org.id, {})
        assert other.directory.org(w.org.id).settings == {}  # type: ignore[union-attr]
    finally:
        other.close()
    remembered = app.directory.org(w.org.id)
    assert remembered is not None and remembered.settings in ({}, {"routing": {"default": "payments"}})
    assert app.directory.org(w.org.name).settings == {}  # type: ignore[union-attr]  # by name: always read

