"""Real @mentions on Teams: people the bot has heard from, or found in the team's roster, are tagged (`<at>Name</at>`
plus a mention entity with their `29:` id) when they are assigned or paged; anyone else is named. Over real HTTP against the Bot Connector
emulator, which refuses an activity whose entities do not match its tags, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from emulators.bot_connector_state import Member
from emulators.teams_markdown import activity_tokens, mention_problem, tags
from handlers.teams.mentions import message_activity
from handlers.teams.people import TeamsAccount
from incident_core import richtext as rt
from incident_core import usecases as uc
from incident_core.model import OrgRole
from storage.engine import scope_to_org
from storage.teams_people import SqlTeamsPeople
from tests.helpers import new_org
from tests.security import oracle
from tests.slack.conftest import eventually
from tests.teams.conftest import TeamsWorld

NAMED = "On this incident: "
HOSTILE_NAME = "<b>Eve</b> *x* _y_ [z](https://evil.example) & <at>Alice Adams</at>"


def page(w: TeamsWorld, *people: Member, title: str = "Checkout 5xx above 2%") -> dict[str, Any]:
    """A project incident whose responders are `people`: its thread opens and names them; that reply."""
    project = w.app.directory.create_project(w.org_id, f"p-{len(w.app.directory.projects(w.org_id))}",
                                             {"responders": [w.actor(p) for p in people]})
    result = uc.declare_incident(deps=w.app.deps, org_id=w.org_id, actor="revenant", title=title,
                                 project_id=project.id, source="signal:alertmanager", check_role=False)
    thread = w.thread_of(result.state.human_id)
    return dict(eventually(lambda: next((a for a in w.connector.activities(thread) if NAMED in str(a.get("text"))),
                                        None), what="the responders paged"))


def entity(member: Member, shown: str | None = None) -> dict[str, Any]:
    tag = f"<at>{shown or member.name}</at>"
    return {"type": "mention", "text": tag, "mentioned": {"id": member.id, "name": member.name}}


def learn(w: TeamsWorld, member: Member) -> None:
    """The member says something in a channel (not to the bot): the bot learns their Teams account."""
    delivery, _ = w.sender.message(member, w.general, "looking at the dashboards now")
    assert delivery.status == 201, delivery.body


def test_a_person_who_posted_is_mentioned_when_paged_and_an_unknown_one_is_named(teams_world: TeamsWorld) -> None:
    w = teams_world
    learn(w, w.bob)
    erin = w.connector.add_member("Erin Ek")  # never wrote anything the bot saw, and not in the team's roster
    w.app.directory.set_role(w.org_id, w.actor(erin), OrgRole.RESPONDER, erin.name)
    said = page(w, w.bob, erin)
    assert said["text"].endswith(NAMED + "<at>Bob Brown</at>, Erin Ek")
    assert said["entities"] == [entity(w.bob)]  # one entity per tag, Bob's 29: id; none is invented for Erin
    oracle.assert_teams_quiet(activity_tokens(said), mentions={w.bob.id}, where="paged")


def test_an_assignee_named_in_a_command_is_mentioned_in_the_answer(teams_world: TeamsWorld) -> None:
    w = teams_world
    thread = w.declare()
    delivery, _ = w.sender.command(w.alice, thread, "role commander @Dave Diaz", mentions=(w.dave,))
    assert delivery.status == 201, delivery.body
    said = eventually(lambda: next((a for a in w.connector.activities(thread)
                                    if "is now the commander" in str(a.get("text"))), None), what="the answer")
    assert said["text"] == "<at>Dave Diaz</at> is now the commander of INC-1"
    assert said["entities"] == [entity(w.dave)]  # the roster answer tied Dave's Entra id to his 29: id


def test_a_display_name_with_markup_is_escaped_in_the_text_and_the_entity(teams_world: TeamsWorld) -> None:
    w = teams_world
    eve = w.connector.add_member(HOSTILE_NAME, team_id=w.team.id)
    w.app.directory.set_role(w.org_id, w.actor(eve), OrgRole.RESPONDER, HOSTILE_NAME)
    learn(w, eve)
    said = page(w, eve)
    shown = ("&lt;b&gt;Eve&lt;/b&gt; \\*x\\* \\_y\\_ \\[z\\]\\(https\u200b://evil.example\\) &amp; "
             "&lt;at&gt;Alice Adams&lt;/at&gt;")
    assert said["text"].endswith(f"{NAMED}<at>{shown}</at>")
    assert said["entities"] == [{"type": "mention", "text": f"<at>{shown}</at>",
                                 "mentioned": {"id": eve.id, "name": HOSTILE_NAME}}]
    assert tags(said["text"]) == [f"<at>{shown}</at>"]  # Alice's name inside Eve's is text, not a second tag
    oracle.assert_teams_quiet(activity_tokens(said), mentions={eve.id}, where="hostile display name")


def test_another_orgs_account_for_the_same_entra_id_is_never_used(teams_world: TeamsWorld) -> None:
    w = teams_world
    learn(w, w.alice)  # the bot learns where this org's channels are (Bob has written nothing here)
    other = w.app.directory.create_org(f"teams-other-{uuid.uuid4().hex[:8]}")
    w.app.directory.bind("teams", "tenant-b", other.id, move=True)
    forged = w.connector.message_activity(w.general, "hello from tenant b", w.bob, app_id=w.sender.app_id,
                                          record=False)
    forged["from"] = {"id": "29:impostor-in-tenant-b", "name": "Bob Brown", "aadObjectId": w.bob.aad_object_id}
    forged["channelData"]["tenant"] = {"id": "tenant-b"}
    assert w.sender.post(forged).status == 201
    with w.app.engine.begin() as conn:  # the other org learnt that account, under its own org and tenant
        scope_to_org(conn, other.id)
        assert conn.execute(sa.text("SELECT teams_id FROM teams_users WHERE org_id = :o"),
                            {"o": other.id}).scalars().all() == ["29:impostor-in-tenant-b"]
    said = page(w, w.bob)  # this org's tenant's roster has Bob: his own account, never the other tenant's
    assert said["text"].endswith(NAMED + "<at>Bob Brown</at>") and said["entities"] == [entity(w.bob)]
    learn(w, w.bob)
    said = page(w, w.bob, title="Second page")
    assert said["entities"] == [entity(w.bob)]


def test_the_sender_is_written_once_however_often_they_write(teams_world: TeamsWorld) -> None:
    w = teams_world
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "teams_users" in statement:
            statements.append(statement)

    sa.event.listen(w.app.engine, "before_cursor_execute", seen)
    try:
        for _ in range(5):
            learn(w, w.bob)
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith("INSERT")
        w.connector.state.members[w.bob.id].name = "Robert Brown"  # a new display name is one more write
        renamed = w.connector.message_activity(w.general, "renamed", w.bob, app_id=w.sender.app_id)
        renamed["from"]["name"] = "Robert Brown"
        for _ in range(3):
            renamed.pop("id", None)
            assert w.sender.post({**renamed, "id": f"renamed-{_}"}).status == 201
        assert len(statements) == 2
    finally:
        sa.event.remove(w.app.engine, "before_cursor_execute", seen)
    assert w.rows("teams_users") == 1


def test_the_store_upserts_without_rewriting_and_keeps_orgs_and_tenants_apart(app: App) -> None:
    a, b = new_org(app), new_org(app)
    bob = TeamsAccount(user_id="aad-bob", teams_id="29:bob", name="Bob")
    SqlTeamsPeople(app.engine).note(a.org.id, "t1", [bob])
    stamp = _updated(app, a.org.id)
    other_process = SqlTeamsPeople(app.engine)  # its cache is empty: it writes, and the row is not rewritten
    other_process.note(a.org.id, "t1", [bob])
    assert _updated(app, a.org.id) == stamp
    other_process.note(a.org.id, "t1", [TeamsAccount(user_id="aad-bob", teams_id="29:bob", name="Bobby",
                                                     trusted=False)])  # someone's mention never overwrites
    assert other_process.accounts(a.org.id, "t1", ["aad-bob"]) == {"aad-bob": ("29:bob", "Bob")}
    other_process.note(a.org.id, "t1", [TeamsAccount(user_id="aad-bob", teams_id="29:bob2", name="Bob")])
    assert other_process.accounts(a.org.id, "t1", ["aad-bob", "nobody"]) == {"aad-bob": ("29:bob2", "Bob")}
    assert other_process.accounts(a.org.id, "t2", ["aad-bob"]) == {}  # a 29: id is only valid in its tenant
    assert other_process.accounts(b.org.id, "t1", ["aad-bob"]) == {}


def _updated(app: App, org_id: str) -> Any:
    with app.engine.begin() as conn:
        scope_to_org(conn, org_id)
        return conn.execute(sa.text("SELECT updated_at FROM teams_users WHERE org_id = :o"), {"o": org_id}).scalar()


def test_two_people_with_one_name_get_one_entity_each_in_order() -> None:
    content = rt.doc(rt.para(rt.mention("teams:a"), " then ", rt.b(rt.mention("teams:b")), " then ",
                             rt.mention("teams:c", "Carol")))
    activity = message_activity(content, {"teams:a": "Sam", "teams:b": "Sam"},
                                {"teams:a": ("29:a", "Sam"), "teams:b": ("29:b", "Sam")})
    body = activity.serialize()
    assert body["text"] == "<at>Sam</at> then **<at>Sam</at>** then Carol"
    assert [e["mentioned"]["id"] for e in body["entities"]] == ["29:a", "29:b"]
    assert mention_problem(body, {"29:a", "29:b"}) is None
    assert message_activity(content).serialize().get("entities") is None  # nobody known: names, no tags


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_emulator_refuses_mentions_that_do_not_match(teams_world: TeamsWorld) -> None:
    w = teams_world
    good = {"type": "message", "text": f"hi <at>{w.bob.name}</at>", "entities": [entity(w.bob)]}
    members = set(w.connector.state.members)
    assert mention_problem(good, members) is None
    for bad in ({**good, "entities": []},  # a tag without its entity
                {**good, "text": "hi Bob"},  # an entity without its tag
                {**good, "entities": [{**entity(w.bob), "text": "<at>Bob</at>"}]},  # not the tag's text
                {**good, "entities": [{**entity(w.bob), "mentioned": {"id": "29:nobody", "name": "Bob"}}]}):
        assert mention_problem(bad, members) is not None
        status, body = _post(w, bad)
        assert status == 400 and "Invalid mention" in body
    assert _post(w, {"type": "message", "text": "`<at>code</at>` is text"})[0] == 201
    assert _post(w, good)[0] == 201


def _post(w: TeamsWorld, activity: dict[str, Any]) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{w.connector.base_url}/v3/conversations/{w.general}/activities",
                                 data=json.dumps(activity).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
