"""The Teams conversation store on SQLite and PostgreSQL, and the tenant wall in front of its tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.bootstrap import App
from handlers.teams.people import TeamsAccount
from storage.engine import scope_to_org
from storage.teams_conversations import SqlTeamsConversations
from storage.teams_people import SqlTeamsPeople
from storage.teams_tables import TEAMS_TENANT_TABLES
from tests.helpers import new_org

SERVICE = "https://smba.trafficmanager.net/emea/"
CHANNEL = "19:aaaa@thread.tacv2"


def ref(conversation_id: str, service_url: str = SERVICE) -> dict:
    return {"channelId": "msteams", "serviceUrl": service_url, "bot": {"id": "28:app"},
            "conversation": {"id": conversation_id, "tenantID": "tenant-1"}}


def test_references_route_threads_and_origins(app: App) -> None:
    store = SqlTeamsConversations(app.engine)
    a, b = new_org(app), new_org(app)
    store.remember(a.org.id, ref("19:general@thread.tacv2"), kind="channel", tenant_id="tenant-1",
                   team_id="19:general@thread.tacv2", channel_id="19:general@thread.tacv2")
    assert store.route_to_channel(a.org.id, CHANNEL)["serviceUrl"] == SERVICE  # type: ignore[index]
    assert store.route_to_channel(b.org.id, CHANNEL) is None  # another org's references never leak
    thread = f"{CHANNEL};messageid=17"
    store.remember(a.org.id, ref(thread), kind="channel", tenant_id="tenant-1", team_id=None, channel_id=CHANNEL,
                   incident_id="inc-1")
    store.remember(a.org.id, ref(thread, "https://smba.trafficmanager.net/amer/"), kind="channel",
                   tenant_id="tenant-1", team_id=None, channel_id=CHANNEL)  # a later activity keeps the incident
    found = store.incident_thread(a.org.id, "inc-1")
    assert found is not None and found["serviceUrl"].endswith("/amer/")
    assert store.reference(a.org.id, thread) == found and store.reference(b.org.id, thread) is None
    assert store.route_to_channel(a.org.id, CHANNEL)["conversation"]["id"] == thread  # type: ignore[index]
    store.note_declare_origin(a.org.id, "teams:alice", CHANNEL)
    store.note_declare_origin(a.org.id, "teams:alice", "19:other@thread.tacv2")
    origin = store.declare_origin(a.org.id, "teams:alice")
    assert origin is not None and origin[0] == "19:other@thread.tacv2"
    assert abs(origin[1] - datetime.now(UTC)) < timedelta(minutes=1)
    assert store.declare_origin(b.org.id, "teams:alice") is None
    assert {c["channel_id"] for c in store.channels(a.org.id)} == {"19:general@thread.tacv2", CHANNEL}
    assert store.channels(b.org.id) == []


@pytest.mark.parametrize("table", TEAMS_TENANT_TABLES)
def test_row_level_security_guards_the_teams_tables(pg_app: App, table: str) -> None:
    store, people = SqlTeamsConversations(pg_app.engine), SqlTeamsPeople(pg_app.engine)
    a, b = new_org(pg_app), new_org(pg_app)
    for world in (a, b):
        store.remember(world.org.id, ref(f"19:{world.org.id}@thread.tacv2"), kind="channel", tenant_id="t",
                       team_id=None, channel_id=CHANNEL)
        store.note_declare_origin(world.org.id, "teams:alice", CHANNEL)
        people.note(world.org.id, "t", [TeamsAccount(user_id="aad-alice", teams_id="29:alice", name="Alice")])
    with pg_app.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0
    with pg_app.engine.begin() as conn:
        scope_to_org(conn, a.org.id)
        rows = conn.execute(sa.text(f"SELECT org_id FROM {table} WHERE org_id = :b OR true"), {"b": b.org.id}).all()
        assert [r.org_id for r in rows] == [a.org.id]
        assert conn.execute(sa.text(f"DELETE FROM {table} WHERE org_id = :b"), {"b": b.org.id}).rowcount == 0
