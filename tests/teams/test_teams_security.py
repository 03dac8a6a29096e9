"""Authentication, tenancy and configuration at /api/messages: refused, ignored or explained, nothing written."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from bot.bootstrap import bootstrap
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.bot_connector import BotConnectorEmulator
from emulators.bot_token_issuer import TokenIssuer
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


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def _forgeries(w: TeamsWorld) -> dict[str, str]:
    kid = w.connector.issuer.kid
    claims = {"iss": "https://api.botframework.com", "aud": APP_ID, "serviceurl": w.connector.service_url,
              "nbf": int(time.time()) - 60, "exp": int(time.time()) + 600}
    stranger = TokenIssuer()  # a real RS256 key the Bot Framework does not publish
    return {
        "unknown kid": stranger.channel_token(APP_ID, w.connector.service_url),
        "HS256 with the real kid": jwt.encode(claims, "guessable-secret", algorithm="HS256", headers={"kid": kid}),
        "alg none": _unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims),
        "alg None": _unsigned({"alg": "None", "typ": "JWT", "kid": kid}, claims),
        "no kid": jwt.encode(claims, stranger._key, algorithm="RS256"),  # noqa: SLF001
    }


def _activity(w: TeamsWorld) -> dict[str, Any]:
    activity = w.connector.message_activity(w.general, "<at>Revenant</at> declare Forged sev1", w.alice,
                                            app_id=APP_ID)
    activity["entities"] = [{"type": "mention", "text": "<at>Revenant</at>",
                             "mentioned": {"id": f"28:{APP_ID}", "name": "Revenant"}}]
    return activity


def test_forged_jwts_are_401_never_500_and_unknown_keys_fetch_at_most_once(teams_world: TeamsWorld) -> None:
    w = teams_world
    activity = _activity(w)
    for _round in range(3):
        for name, token in _forgeries(w).items():
            delivery = w.sender.post(activity, token=token)
            assert delivery.status == 401, (name, delivery.body)
            assert "unauthorized" in delivery.json()["error"], name
    metadata = "GET /v1/.well-known/openidconfiguration"
    assert w.connector.requests.count(metadata) <= 1  # unknown kids do not make every request fetch again
    assert w.incident() is None and all(w.rows(t) == 0 for t in TABLES)
    assert w.sender.post(activity, token=w.connector.issue_token(APP_ID)).status == 201
    assert w.incident().title == "Forged"


def test_while_the_keys_cannot_be_fetched_unknown_keys_are_503_and_failures_are_remembered(
        teams_world: TeamsWorld) -> None:
    w = teams_world
    metadata = "GET /v1/.well-known/openidconfiguration"
    w.connector.inject(metadata, status=500, times=2)
    activity = _activity(w)
    first = w.sender.post(activity, token=w.connector.issue_token(APP_ID))
    assert first.status == 503 and int(first.headers["Retry-After"]) >= 1
    again = w.sender.post(activity, token=w.connector.issue_token(APP_ID))
    assert again.status == 503 and w.connector.requests.count(metadata) == 1  # the failure is remembered
    assert w.sender.post(activity, token=_forgeries(w)["alg none"]).status == 401  # refused without keys
    assert w.incident() is None and all(w.rows(t) == 0 for t in TABLES)
    time.sleep(1.2)  # the first backoff step
    assert w.sender.post(activity, token=w.connector.issue_token(APP_ID)).status == 503  # the second fault
    time.sleep(2.2)
    assert w.sender.post(activity, token=w.connector.issue_token(APP_ID)).status == 201
    assert w.incident().title == "Forged"


def test_a_slow_key_fetch_never_blocks_the_event_loop(teams_world: TeamsWorld) -> None:
    w = teams_world
    w.connector.inject("GET /v1/.well-known/openidconfiguration", delay=6.0, times=1)
    answers: list[int] = []
    sender = threading.Thread(target=lambda: answers.append(
        w.sender.post(_activity(w), token=w.connector.issue_token(APP_ID)).status))
    sender.start()
    time.sleep(0.5)  # let the request reach the key fetch
    with urllib.request.urlopen(f"{w.sender.app_url}/healthz", timeout=10) as r:
        assert r.status == 200 and sender.is_alive()  # answered while the key fetch is still waiting
    sender.join(30)
    assert answers == [503]  # the fetch timed out: 503 with Retry-After, not a hang
