"""Guidance posting asks for the platform's chat adapter only for an incident that has a room there: for an org
with nothing bound, each chat_for is a bindings read (bot/chat_cache.py keeps no "nothing bound" answer)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

from incident_core import commands as cmd
from incident_core.delivery import Deliveries
from incident_core.model import Severity
from incident_core.ports import IncidentQueries
from incident_core.services.guidance import GuidancePosting
from incident_core.services.platforms import ChatPlatform, PlatformPlugin
from incident_core.state import IncidentState
from incident_core.state_models import Room
from tests.postmortem.scenario import ORG, Memory


@dataclass
class _Message:
    org_id: str
    key: str
    payload: dict[str, Any]


class _Queries:
    def __init__(self, state: IncidentState) -> None:
        self.state = state

    def get(self, org_id: str, incident_id: str) -> IncidentState | None:
        return self.state if (org_id, incident_id) == (self.state.org_id, self.state.incident_id) else None


def test_guidance_asks_for_the_chat_adapter_only_when_the_incident_has_a_room_there() -> None:
    m = Memory()
    m.run(cmd.DeclareIncident, number=1, title="Checkout down", severity=Severity.SEV2)
    assert m.state is not None
    asked: list[str] = []

    def chat_for(org_id: str) -> ChatPlatform | None:
        asked.append(org_id)
        return None  # nothing bound

    def post(state: IncidentState) -> None:
        posting = GuidancePosting(queries=cast(IncidentQueries, _Queries(state)), deliveries=cast(Deliveries, None),
                                  plugin=PlatformPlugin(name="slack", label="Slack", chat_for=chat_for))
        posting(_Message(ORG, "k", {"incident_id": state.incident_id, "batch_id": "b1"}))

    post(m.state)  # no room on this platform: nothing to post, nothing asked
    assert asked == []
    post(replace(m.state, rooms={"slack": Room(room_id="C0ROOM", message_id="1.2")}))
    assert asked == [ORG]  # a room: the adapter is asked for (none bound here, so nothing is posted)
