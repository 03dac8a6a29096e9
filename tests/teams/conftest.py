"""The whole app served on loopback with Teams configured against the Bot Connector emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa

from bot.bootstrap import App, bootstrap
from bot.local_server import BackgroundServer
from bot.settings import Settings
from emulators.bot_connector import BotConnectorEmulator
from emulators.bot_connector_state import Member, Team
from emulators.bot_credentials import EmulatorCredentialsFactory
from emulators.teams_activities import TeamsSender
from incident_core.events import Event
from incident_core.model import OrgRole
from publishers.simulator import SimulatedExecutor
from storage.engine import scope_to_org
from tests.conftest import fresh_postgres
from tests.slack.conftest import eventually

APP_ID = "00000000-0000-0000-0000-00000revenant"
CARD = "application/vnd.microsoft.card.adaptive"


def teams_settings(tmp_path: Path, db_url: str, *, authenticated: bool, **extra: Any) -> Settings:
    """Settings with an app id (authenticated) or with the development flag."""
    auth: dict[str, Any] = ({"microsoft_app_id": APP_ID, "microsoft_app_password": "emulator-client-secret"}
                            if authenticated else {"teams_allow_unauthenticated": True})
    return Settings(data_dir=tmp_path, database_url=db_url, **auth, **extra)  # type: ignore[arg-type]


def teams_overrides(connector: BotConnectorEmulator, *, authenticated: bool) -> dict[str, Any]:
    """Point botbuilder's JWT validation and outbound tokens at the emulator; run actions instantly."""
    overrides: dict[str, Any] = {"executor": SimulatedExecutor(delay_seconds=0)}
    if authenticated:
        overrides["teams_auth_settings"] = connector.bot_auth_settings(APP_ID, "emulator-client-secret")
        overrides["teams_credentials_factory"] = EmulatorCredentialsFactory(connector, APP_ID,
                                                                            "emulator-client-secret")
    return overrides


@dataclass
class TeamsWorld:
    app: App
    connector: BotConnectorEmulator
    sender: TeamsSender
    org_id: str
    team: Team
    general: str
    incidents: str
    alice: Member
    bob: Member
    carol: Member
    dave: Member

    @staticmethod
    def actor(member: Member) -> str:
        return f"teams:{member.aad_object_id}"

    def incident(self, ref: str = "INC-1") -> Any:
        return self.app.queries.get(self.org_id, ref)

    def thread_of(self, ref: str = "INC-1") -> str:
        def room() -> str | None:
            state = self.incident(ref)
            return str(state.rooms["teams"].room_id) if state is not None and "teams" in state.rooms else None

        return str(eventually(room, what=f"{ref} thread"))

    def events(self, ref: str = "INC-1") -> list[str]:
        return [e.type_name for e in self.timeline(ref)]

    def timeline(self, ref: str = "INC-1") -> list[Event]:
        state = self.incident(ref)
        return list(cast(Sequence[Event], self.app.queries.timeline(self.org_id, state.incident_id))) if state else []

    def card(self, thread: str) -> dict[str, Any]:
        """The war-room card at the root of a thread, as the connector holds it now."""
        root = thread.split(";messageid=", 1)[1]
        found = next(a for a in self.connector.activities(thread) if a.get("id") == root)
        return dict(found["attachments"][0]["content"])

    def bot_texts(self, conversation: str) -> list[str]:
        """What the bot wrote in a conversation (a channel id includes its threads)."""
        return [str(a.get("text") or "") for a in self.connector.activities(conversation)
                if (a.get("from") or {}).get("id", "").startswith("28:") and a.get("text")]

    def declare(self, text: str = "declare Checkout latency spike sev2") -> str:
        delivery, _ = self.sender.command(self.alice, self.general, text)
        assert delivery.status == 201, delivery.body
        return self.thread_of()

    def rows(self, table: str) -> int:
        with self.app.engine.begin() as conn:
            scope_to_org(conn, self.org_id)
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE org_id = :o"),
                                    {"o": self.org_id}).scalar() or 0)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A database per Teams test module. Their reminder tests move the clock half an hour ahead, and
    in the run's shared database every older test's open incident would fall due at once, flooding
    the outbox with notices for workspaces whose emulators are gone."""
    yield from fresh_postgres("revenant_teams")


@pytest.fixture
def connector() -> Iterator[BotConnectorEmulator]:
    with BotConnectorEmulator() as emulator:
        yield emulator


def make_world(app: App, connector: BotConnectorEmulator, url: str, *, app_id: str) -> TeamsWorld:
    """An org bound to the emulator's tenant, a team with General and incidents, four people."""
    team = connector.create_team("Incident Response", ("General", "incidents"))
    people = [connector.add_member(n, team_id=team.id) for n in ("Alice Adams", "Bob Brown", "Carol Chen",
                                                                   "Dave Diaz")]
    org = app.directory.create_org(f"teams-{uuid.uuid4().hex[:8]}")
    app.directory.bind("teams", connector.state.tenant_id, org.id, move=True)  # the emulator's tenant id repeats
    app.directory.update_org_settings(org.id, {"teams": {"incident_channel": team.channels["incidents"]}})
    for member, role in zip(people, (OrgRole.COMMANDER, OrgRole.RESPONDER, OrgRole.VIEWER, OrgRole.COMMANDER),
                            strict=True):
        app.directory.set_role(org.id, f"teams:{member.aad_object_id}", role, member.name)
    sender = TeamsSender(app_url=url, connector=connector, app_id=app_id)
    return TeamsWorld(app, connector, sender, org.id, team, team.channels["General"], team.channels["incidents"],
                      *people)


@pytest.fixture
def teams_world(db_url: str, tmp_path: Path, connector: BotConnectorEmulator) -> Iterator[TeamsWorld]:
    app = bootstrap(teams_settings(tmp_path, db_url, authenticated=True), migrate=db_url.startswith("sqlite"),
                    **teams_overrides(connector, authenticated=True))
    with BackgroundServer(app) as server:
        yield make_world(app, connector, server.url, app_id=APP_ID)
    app.close()
