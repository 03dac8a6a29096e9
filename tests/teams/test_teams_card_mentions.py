"""@mentions in Adaptive Cards, and people who never wrote to the bot found in the Bot Connector's roster.

Over real HTTP against the Bot Connector emulator, which refuses a card whose `<at>` tags and `msteams.entities`
do not match as it refuses such a message, answers roster lookups by Teams id, Entra object id or UPN (404
for anyone else) and injects 429s and slow answers; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import bootstrap
from bot.local_server import BackgroundServer
from bot.reminders import tick
from emulators.bot_connector import BotConnectorEmulator
from emulators.bot_connector_state import Member
from emulators.teams_markdown import activity_tokens, card_entities, card_mention_problem, card_tokens
from incident_core import usecases as uc
from incident_core.model import IncidentRole, OrgRole
from storage.engine import scope_to_org
from storage.teams_people import SqlTeamsPeople
from tests.security import oracle
from tests.slack.conftest import eventually
from tests.teams.conftest import APP_ID, TeamsWorld, make_world, teams_overrides, teams_settings
from tests.teams.test_teams_mentions import HOSTILE_NAME, entity, learn
from tests.teams.test_teams_notices import Later

LOOKUP = "GET /v3/conversations/*/members/*"


def card_entity(member: Member, shown: str | None = None) -> dict[str, Any]:
    return entity(member, shown)


def said(w: TeamsWorld, thread: str, words: str, *, after: int = 0) -> dict[str, Any]:
    """The bot's message with these words, once more than `after` of them are in the thread (the newest)."""
    def found() -> dict[str, Any] | None:
        matching = [a for a in w.connector.activities(thread) if words in str(a.get("text"))]
        return matching[-1] if len(matching) > after else None

    return dict(eventually(found, what=repr(words)))


def assign(w: TeamsWorld, thread: str, member: Member, *, by: Member | None = None,
           role: str = "commander") -> dict[str, Any]:
    """`@Revenant role commander @<Entra object id>`: typed, not a Teams mention (the bot never saw them)."""
    words = f"is now the {role}"
    before = len([a for a in w.connector.activities(thread) if words in str(a.get("text"))])
    delivery, _ = w.sender.command(by or w.alice, thread, f"role {role} @{member.aad_object_id}")
    assert delivery.status == 201, delivery.body
    return said(w, thread, words, after=before)


def commander_on_card(w: TeamsWorld, thread: str, shown: str) -> dict[str, Any]:
    def shows() -> dict[str, Any] | None:
        card = w.card(thread)
        roles = [f["value"] for block in card["body"] for f in block.get("facts", []) if f["title"] == "Roles"]
        return card if any(f"commander: {shown}" in r for r in roles) else None

    return dict(eventually(shows, what=f"{shown} on the war-room card"))


def test_the_war_room_card_mentions_its_commander_with_a_card_entity(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()  # Alice declared: she wrote to the bot, so her account is known
    card = commander_on_card(w, thread, "<at>Alice Adams</at>")
    assert card_entities(card) == [card_entity(w.alice)]
    assert card["msteams"]["width"] == "Full"
    assert card_mention_problem(card, set(w.connector.state.members)) is None
    oracle.assert_teams_quiet(card_tokens(card), mentions={w.alice.id}, where="war room")


def test_a_commander_who_never_wrote_is_found_in_the_roster_once_and_mentioned(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    answer = assign(w, thread, w.dave)
    assert answer["text"] == "<at>Dave Diaz</at> is now the commander of INC-1"
    assert answer["entities"] == [entity(w.dave)]  # the roster answered for his Entra object id
    card = commander_on_card(w, thread, "<at>Dave Diaz</at>")
    assert card_entities(card) == [card_entity(w.dave)]
    lookups = w.connector.requests.filter(LOOKUP)
    assert [r.path.rsplit("/", 1)[1] for r in lookups] == [w.dave.aad_object_id]  # asked once, then recorded
    assert SqlTeamsPeople(w.app.engine).accounts(w.org_id, w.connector.state.tenant_id, [w.dave.aad_object_id]) \
        == {w.dave.aad_object_id: (w.dave.id, "Dave Diaz")}


def test_someone_outside_the_roster_is_named_and_not_asked_again(teams_world: TeamsWorld) -> None:
    w = teams_world
    erin = w.connector.add_member("Erin Ek")  # in the tenant, not in the team: the roster answers 404
    w.app.directory.set_role(w.org_id, w.actor(erin), OrgRole.RESPONDER, erin.name)
    thread = w.declare()
    assert assign(w, thread, erin)["text"] == "Erin Ek is now the commander of INC-1"
    assert assign(w, thread, erin, role="scribe")["text"] == "Erin Ek is now the scribe of INC-1"
    commander_on_card(w, thread, "Erin Ek")
    misses = [r for r in w.connector.requests.filter(LOOKUP) if r.path.endswith(erin.aad_object_id)]
    assert [r.status for r in misses] == [404]  # one 404, remembered: no second lookup for the second answer


def test_a_rate_limited_roster_names_people_and_pauses_for_its_retry_after(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    w.connector.inject(LOOKUP, status=429, retry_after=120, times=5)
    assert assign(w, thread, w.dave)["text"] == "Dave Diaz is now the commander of INC-1"
    assert assign(w, thread, w.bob)["text"] == "Bob Brown is now the commander of INC-1"  # paused: not asked
    lookups = w.connector.requests.filter(LOOKUP)  # Dave's answer and his war-room refresh may ask at once
    assert {r.status for r in lookups} == {429} and {r.path.rsplit("/", 1)[1] for r in lookups} == {w.dave.aad_object_id}


@pytest.fixture
def quick_roster_world(db_url: str, tmp_path: Path, connector: BotConnectorEmulator) -> Iterator[TeamsWorld]:
    """The Teams world with roster lookups given up after 0.3 s."""
    app = bootstrap(teams_settings(tmp_path, db_url, authenticated=True), migrate=db_url.startswith("sqlite"),
                    teams_roster={"timeout": 0.3}, **teams_overrides(connector, authenticated=True))
    with BackgroundServer(app) as server:
        yield make_world(app, connector, server.url, app_id=APP_ID)
    app.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_slow_roster_never_holds_the_reply_back_past_its_bound(quick_roster_world: TeamsWorld) -> None:
    w = quick_roster_world
    thread = w.declare()
    w.connector.inject(LOOKUP, delay=1.0, times=1)  # the first lookup answers after 1 s: the bot stops at 0.3 s
    assert assign(w, thread, w.dave)["text"] == "Dave Diaz is now the commander of INC-1"
    w.connector.faults.clear()
    assert assign(w, thread, w.dave, role="scribe").get("entities") == [entity(w.dave)]  # a timeout is no miss
    commander_on_card(w, thread, "<at>Dave Diaz</at>")  # the thread's refresh is done too (nothing left running)


def test_a_reminder_mentions_a_commander_assigned_outside_teams(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare("declare Checkout down sev1")
    state = w.incident()
    uc.assign_role(deps=w.app.deps, org_id=w.org_id, incident_id=state.incident_id, actor="revenant",
                   role=IncidentRole.COMMANDER, assignee=w.actor(w.dave))  # e.g. from the CLI: Dave never wrote
    org = w.app.directory.require_org(w.org_id)
    w.app.directory.update_org_settings(w.org_id, {**org.settings,
                                                   "reminders": {"status_update_minutes": {"SEV1": 30}}})
    later = replace(w.app, deps=replace(w.app.deps, clock=Later(w.app.deps.clock.now(), 31)))
    assert tick(later, use_leader=False) >= 1
    reminder = said(w, thread, "<at>Dave Diaz</at>, ")
    assert reminder["entities"] == [entity(w.dave)]
    assert len([r for r in w.connector.requests.filter(LOOKUP) if r.path.endswith(w.dave.aad_object_id)]) == 1


def test_a_hostile_name_from_the_roster_is_escaped_in_the_message_and_the_card(teams_world: TeamsWorld) -> None:
    w = teams_world
    eve = w.connector.add_member(HOSTILE_NAME, team_id=w.team.id)
    w.app.directory.set_role(w.org_id, w.actor(eve), OrgRole.COMMANDER, HOSTILE_NAME)
    thread = w.declare()
    answer = assign(w, thread, eve)
    shown = ("&lt;b&gt;Eve&lt;/b&gt; \\*x\\* \\_y\\_ \\[z\\]\\(https\u200b://evil.example\\) &amp; "
             "&lt;at&gt;Alice Adams&lt;/at&gt;")
    assert answer["text"] == f"<at>{shown}</at> is now the commander of INC-1"
    assert answer["entities"] == [{"type": "mention", "text": f"<at>{shown}</at>",
                                   "mentioned": {"id": eve.id, "name": HOSTILE_NAME}}]
    oracle.assert_teams_quiet(activity_tokens(answer), mentions={eve.id}, where="hostile roster name")
    card = commander_on_card(w, thread, f"<at>{shown}</at>")
    assert card_entities(card) == [{"type": "mention", "text": f"<at>{shown}</at>",
                                    "mentioned": {"id": eve.id, "name": HOSTILE_NAME}}]
    oracle.assert_teams_quiet(card_tokens(card), mentions={eve.id}, where="hostile roster name on the card")


def test_what_the_roster_finds_stays_in_its_org_and_tenant(teams_world: TeamsWorld) -> None:
    w = teams_world
    other = w.app.directory.create_org(f"teams-other-{uuid.uuid4().hex[:8]}")
    thread = w.declare()
    assign(w, thread, w.dave)
    with w.app.engine.begin() as conn:
        scope_to_org(conn, w.org_id)
        rows = conn.execute(sa.text("SELECT org_id, tenant_id, teams_id FROM teams_users WHERE user_id = :u"),
                            {"u": w.dave.aad_object_id}).all()
    assert [tuple(r) for r in rows] == [(w.org_id, w.connector.state.tenant_id, w.dave.id)]
    people = SqlTeamsPeople(w.app.engine)
    assert people.accounts(other.id, w.connector.state.tenant_id, [w.dave.aad_object_id]) == {}
    assert people.accounts(w.org_id, "another-tenant", [w.dave.aad_object_id]) == {}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_emulator_refuses_a_card_whose_mentions_do_not_match(teams_world: TeamsWorld) -> None:
    from tests.teams.test_teams_mentions import _post

    w = teams_world
    learn(w, w.bob)
    body = [{"type": "TextBlock", "text": f"Commander: <at>{w.bob.name}</at>"}]
    good = {"type": "AdaptiveCard", "version": "1.4", "body": body, "msteams": {"entities": [entity(w.bob)]}}
    members = set(w.connector.state.members)
    assert card_mention_problem(good, members) is None
    for bad in ({**good, "msteams": {}},  # a tag without its entity
                {**good, "body": [{"type": "TextBlock", "text": "Commander: Bob"}]},  # an entity without a tag
                {**good, "msteams": {"entities": [entity(w.bob), entity(w.bob)]}},  # two for one tag
                {**good, "msteams": {"entities": [{**entity(w.bob), "mentioned": {"id": "29:x", "name": "B"}}]}}):
        assert card_mention_problem(bad, members) is not None
        status, text = _post(w, _card_message(bad))
        assert status == 400 and "Invalid mention" in text
    assert _post(w, _card_message(good))[0] == 201


def _card_message(card: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "content": card}]}


def test_a_card_gets_one_entity_per_tag_it_still_shows() -> None:
    from handlers.teams import cards
    from handlers.teams.markdown import cut
    from incident_core import richtext as rt

    accounts = {"teams:a": ("29:a", "Sam"), "teams:b": ("29:b", "Sam"), "teams:c": ("29:c", "Cy")}
    content = rt.doc(rt.para(rt.mention("teams:a"), ", ", rt.mention("teams:a"), ", ", rt.mention("teams:b"),
                             " and ", rt.mention("teams:c")))
    card = cards.notice(content, {"teams:a": "Sam", "teams:b": "Sam"}, accounts)
    assert card["body"][0]["text"] == "<at>Sam</at>, <at>Sam</at>, Sam and <at>Cy</at>"  # the second Sam is named
    assert [(e["text"], e["mentioned"]["id"]) for e in card_entities(card)] == [("<at>Sam</at>", "29:a"),
                                                                                 ("<at>Cy</at>", "29:c")]
    assert card_mention_problem(card, {"29:a", "29:c"}) is None
    long = cards.notice(rt.doc(rt.para("x" * 1990, rt.mention("teams:c"))), {}, accounts)
    assert "<at>" not in long["body"][0]["text"] and "entities" not in long["msteams"]  # cut whole, entity dropped
    assert cut("ab <at>Cy</at> cd", 8) == "ab …" and cut("ab <at>Cy</at> cd", 15) == "ab <at>Cy</at>…"
    assert "entities" not in cards.notice(content)["msteams"]  # nobody known: names, no tags, no entities
