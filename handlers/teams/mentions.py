"""Rich text → a Teams message activity whose people are real @mentions when their Teams account is known.

Teams notifies a person only for an `<at>Name</at>` tag in the text *and* a mention entity
`{"type": "mention", "mentioned": {"id": "29:…", "name"}, "text": "<at>Name</at>"}` on the activity. Both come
from one rendering (TeamsText.message): one entity per tag, in order, the same text, the name escaped once.
A person the store has no account for is looked up once in the Bot Connector's roster (handlers/teams/roster.py,
bounded; what it finds is recorded); whoever is still unknown is shown by name: no id is ever guessed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from botbuilder.core import MessageFactory
from botbuilder.schema import Activity, ChannelAccount, Mention

from handlers.teams.activity import channel_in
from handlers.teams.ids import PLATFORM
from handlers.teams.markdown import TeamsText
from handlers.teams.people import PeopleStore, people_in
from handlers.teams.roster import MemberLookup, Roster
from incident_core import richtext as rt
from incident_core.warroom import WarRoom


def known_accounts(people: PeopleStore | None, org_id: str, tenant_id: str | None,
                   wanted: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Person id (`teams:<id>`) → (`29:` id, name) of the wanted people (bare timeline ids) the tenant knows (a
    `29:` id is only valid in its tenant); the store only, no roster (for answers built off the event loop)."""
    asked = set(wanted)
    if people is None or not asked or not tenant_id:
        return {}
    return {f"{PLATFORM}:{user}": found for user, found in people.accounts(org_id, tenant_id, asked).items()}


def people_in_view(view: WarRoom) -> set[str]:
    """The Teams people (bare timeline ids) the war-room card shows: its roles and the people its action lines name."""
    roles = {u.split(":", 1)[1] for u in view.roles.values() if u and u.startswith(f"{PLATFORM}:")}
    return roles | people_in(rt.doc(*(rt.para(*line) for line in view.actions)))


async def mentionable(people: PeopleStore | None, roster: Roster | None, conversations: MemberLookup | None, *,
                      conversation_id: str, org_id: str, tenant_id: str | None,
                      wanted: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Person id (`teams:<id>`) → (`29:` id, name) of the wanted people (bare timeline ids) known in the tenant,
    the rest asked of the roster of the conversation's channel (bounded) and what it finds recorded."""
    asked = set(wanted)
    if people is None or not asked or not tenant_id:
        return {}
    known = dict(await asyncio.to_thread(people.accounts, org_id, tenant_id, asked))
    missing = asked - known.keys()
    if missing and roster is not None and conversations is not None:
        members_of = channel_in(conversation_id) or conversation_id  # a thread's members are its channel's
        found = await roster.find(conversations, members_of, org_id, tenant_id, missing)
        if found:
            await asyncio.to_thread(people.note, org_id, tenant_id, found)
            known.update({a.user_id: (a.teams_id, a.name) for a in found})
    return {f"{PLATFORM}:{user}": account for user, account in known.items()}


def message_activity(content: rt.Rich, names: Mapping[str, str] | None = None,
                     accounts: Mapping[str, tuple[str, str]] | None = None) -> Activity:
    """A markdown message activity: the content rendered for Teams, with a mention entity for each `<at>` tag."""
    text, tagged = TeamsText(names or {}, accounts or {}).message(content)
    activity = MessageFactory.text(text)
    activity.text_format = "markdown"
    if tagged:
        activity.entities = [Mention(mentioned=ChannelAccount(id=t.teams_id, name=t.name), text=t.tag, type="mention")
                             for t in tagged]
    return activity
