"""`/revenant postmortem` through the platform-neutral chat service (what Teams uses): draft and summary."""

from __future__ import annotations

import pytest

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.chat_commands import parse
from incident_core.chat_service import ChatContext, ChatService
from incident_core.errors import InvalidTransition, NotFound
from incident_core.model import OrgRole, Status
from tests.helpers import declare, new_org


def test_postmortem_command_drafts_and_summarizes(sqlite_app: App) -> None:
    world = new_org(sqlite_app, members={"teams:ann": OrgRole.RESPONDER})
    chat = ChatService(deps=world.deps, queries=sqlite_app.queries)
    state = declare(world, "Login errors", actor="teams:ann").state
    ctx = ChatContext(org_id=world.org.id, platform="teams", user="teams:ann", incident_id=state.incident_id)
    with pytest.raises(InvalidTransition, match="mitigated or resolved"):
        chat.handle(parse("postmortem"), ctx)
    with pytest.raises(NotFound, match="not an incident channel"):
        chat.handle(parse("postmortem"), ChatContext(org_id=world.org.id, platform="teams", user="teams:ann"))
    uc.add_note(deps=world.deps, org_id=world.org.id, incident_id=state.incident_id, actor="teams:ann",
                text="ann forgot to renew the certificate")
    uc.change_status(deps=world.deps, org_id=world.org.id, incident_id=state.incident_id, actor="teams:ann",
                     status=Status.MITIGATED, note="certificate renewed")
    reply = chat.handle(parse("postmortem"), ctx)
    assert reply.text.startswith("Postmortem for INC-1 — draft (deterministic)")
    assert "⚠️ contributing factors: “ann forgot" in reply.text  # the blameless checker, in the summary
    again = chat.handle(parse("postmortem"), ctx)  # the draft is made once, then shown
    events = [e.type_name for e in sqlite_app.queries.timeline(world.org.id, state.incident_id)]
    assert events.count("PostmortemDrafted") == 1 and again.text == reply.text
