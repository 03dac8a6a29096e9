"""Authentication, tenancy and configuration at /api/messages: refused, ignored or explained, nothing written."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import bootstrap
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.bot_connector import BotConnectorEmulator
from emulators.teams_activities import UNSIGNED
from tests.teams.conftest import APP_ID, TeamsWorld, make_world, teams_overrides, teams_settings

TABLES = ("events", "teams_conversations", "teams_declare_origins", "incidents", "outbox")


def test_requests_without_a_valid_token_are_401_and_a_valid_one_is_served(teams_world: TeamsWorld) -> None:
    w = teams_world
    activity = w.connector.message_activity(w.general, "<at>Revenant</at> declare Forged sev1", w.alice,
                                            app_id=APP_ID)
    activity["entities"] = [{"type": "mention", "text": "<at>Revenant</at>",
                             "mentioned": {"id": f"28:{APP_ID}", "name": "Revenant"}}]
    forged = (UNSIGNED, "not-a-jwt", w.connector.issue_token("someone-else"),
              w.connector.issue_token(APP_ID, "http://evil.example/"),
              w.connector.issue_token(APP_ID, expires_in=-600))
    for token in forged:
        delivery = w.sender.post(activity, token=token)
        assert delivery.status == 401, (token[:20], delivery.body)
        assert "unauthorized" in delivery.json()["error"]
    assert w.incident() is None and all(w.rows(t) == 0 for t in TABLES)
    assert w.sender.post(activity, token=w.connector.issue_token(APP_ID)).status == 201
    assert w.incident().title == "Forged"
    sent = w.connector.requests.last("POST /v3/conversations/*")
    assert sent.headers["Authorization"].startswith("Bearer ")  # replies carry the bot's own token


def test_an_unknown_tenant_is_ignored_with_nothing_written(teams_world: TeamsWorld) -> None:
    w = teams_world
    stranger = "11111111-2222-3333-4444-555555555555"
    delivery, _ = w.sender.command(w.alice, w.general, "declare Not ours sev1", tenant_id=stranger)
    assert delivery.status == 201
    assert f"revenant org link-teams ORG {stranger}" in w.bot_texts(w.general)[-1]
    activity = w.connector.message_activity(w.general, "just chatting", w.bob, app_id=APP_ID)
    activity["channelData"]["tenant"] = {"id": stranger}
    assert w.sender.post(activity).status == 201
    invoke, _ = w.sender.execute(w.alice, w.general, "1", "incident.status", {"incident_id": "INC-1",
                                                                             "status": "resolved"},
                                 tenant_id=stranger)
    assert invoke.status == 200 and invoke.json()["statusCode"] == 403
    assert w.incident() is None and all(w.rows(t) == 0 for t in TABLES)


def test_bad_bodies_are_refused(teams_world: TeamsWorld) -> None:
    w = teams_world
    for data, kind, status in ((b"{not json", "application/json", 400), (b"[1, 2]", "application/json", 400),
                               (b"{}", "application/json", 400), (b"type=message", "text/plain", 415)):
        req = urllib.request.Request(f"{w.sender.app_url}/api/messages", data=data, method="POST",
                                     headers={"Content-Type": kind})
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("accepted")
        except urllib.error.HTTPError as e:
            assert e.code == status and "error" in json.loads(e.read())


@pytest.fixture
def bare_app(tmp_path: Path) -> Iterator[Settings]:
    yield Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'r.db'}")  # type: ignore[call-arg]


def test_no_app_id_and_no_flag_answers_503_saying_why(bare_app: Settings) -> None:
    app = bootstrap(bare_app)
    try:
        with BackgroundServer(app) as server:
            req = urllib.request.Request(f"{server.url}/api/messages", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=10)
                raise AssertionError("served")
            except urllib.error.HTTPError as e:
                assert e.code == 503
                assert "MICROSOFT_APP_ID" in json.loads(e.read())["error"]
    finally:
        app.close()


def test_development_flag_serves_without_tokens_and_warns(tmp_path: Path, connector: BotConnectorEmulator,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    app = bootstrap(teams_settings(tmp_path, url, authenticated=False), **teams_overrides(connector,
                                                                                            authenticated=False))
    try:
        with caplog.at_level(logging.WARNING, logger="revenant.teams"), BackgroundServer(app) as server:
            w = make_world(app, connector, server.url, app_id="")
            assert w.declare()
        assert any("UNAUTHENTICATED" in r.getMessage() for r in caplog.records)
    finally:
        app.close()
