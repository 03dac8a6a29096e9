"""Rich text → a Teams message activity whose people are real @mentions when their Teams account is known.

Teams notifies a person only for an `<at>Name</at>` tag in the text *and* a mention entity
`{"type": "mention", "mentioned": {"id": "29:…", "name"}, "text": "<at>Name</at>"}` on the activity. Both come
from one rendering (TeamsText.message): one entity per tag, in order, the same text, the name escaped once.
A person whose account the bot never saw is shown by name, as before: no id is ever guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from botbuilder.core import MessageFactory
from botbuilder.schema import Activity, ChannelAccount, Mention

from handlers.teams.ids import PLATFORM
from handlers.teams.markdown import TeamsText
from handlers.teams.people import PeopleStore, people_in
from incident_core import richtext as rt


def known_accounts(people: PeopleStore | None, org_id: str, tenant: Callable[[], str | None],
                   content: rt.Rich) -> dict[str, tuple[str, str]]:
    """Person id (`teams:<id>`) → (`29:` id, name) of the people the content mentions and the conversation's
    tenant knows (a `29:` id is only valid in its tenant).

    Asks for the tenant and reads the store only when the content mentions someone (most messages do not)."""
    wanted = people_in(content)
    if people is None or not wanted:
        return {}
    tenant_id = tenant()
    if not tenant_id:
        return {}
    return {f"{PLATFORM}:{user}": found for user, found in people.accounts(org_id, tenant_id, wanted).items()}


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
