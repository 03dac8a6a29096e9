"""People's Teams channel accounts: what the bot learns from activities and needs to write a real @mention.

The timeline keys a person by Entra object id (`teams:<aad>`); a Teams mention entity needs their channel
account id (`29:…`), which only arrives with their activities. Trust: `from` is set by Teams for the
sender, and a roster answer (`TeamsInfo.get_member`) by the connector, so both may tie an Entra id to a
`29:` id; a mention entity in someone's message is that sender's client's data, so it is only ever kept
under its own `29:` id and never overwrites what a person's own activity said.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botbuilder.schema import Activity, ChannelAccount

from handlers.teams.ids import PLATFORM
from incident_core import richtext as rt

MAX_NOTED = 20  # people noted per activity (the sender plus mentions); a message may mention many more
MAX_ID, MAX_NAME = 200, 200


@dataclass(frozen=True)
class TeamsAccount:
    """One person's Teams account: timeline id (Entra object id, else the `29:` id), channel account id, name.

    `trusted` is False for accounts read from another person's mention entity (see the module docstring).
    """

    user_id: str
    teams_id: str
    name: str = ""
    trusted: bool = True


class PeopleStore(Protocol):
    """People's Teams accounts by org and tenant (storage implements it; handlers never see SQL)."""

    def note(self, org_id: str, tenant_id: str, accounts: Sequence[TeamsAccount]) -> None:
        """Record accounts seen in an activity: a write only for a new or changed person."""
        ...

    def accounts(self, org_id: str, tenant_id: str, user_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Timeline id (bare, without `teams:`) → (`29:` id, name) of the people known in this org and tenant."""
        ...


def account(user_id: str | None, teams_id: str | None, name: str | None, *, trusted: bool = True) -> TeamsAccount | None:
    """An account worth keeping: a person's `29:` id (bots are `28:`) and ids that fit; the name on one line."""
    teams_id, user_id = str(teams_id or ""), str(user_id or teams_id or "")
    if not teams_id.startswith("29:") or len(teams_id) > MAX_ID or not user_id or len(user_id) > MAX_ID:
        return None
    return TeamsAccount(user_id=user_id, teams_id=teams_id, name=rt.one_line(rt.clean(name or ""), MAX_NAME),
                        trusted=trusted)


def of_member(member: ChannelAccount | None) -> TeamsAccount | None:
    """The account of an activity's sender or of a roster answer (Teams sets both)."""
    if member is None:
        return None
    return account(member.aad_object_id or member.id, member.id, member.name)


def seen_in(activity: Activity, mentions: Sequence[dict[str, Any]]) -> list[TeamsAccount]:
    """The sender's account and those of the people the message mentions (at most MAX_NOTED)."""
    found = [of_member(activity.from_property)]
    for mention in mentions:
        raw = mention.get("mentioned")
        mentioned: dict[str, Any] = raw if isinstance(raw, dict) else {}
        found.append(account(mentioned.get("id"), mentioned.get("id"), mentioned.get("name"), trusted=False))
    return [a for a in found if a is not None][:MAX_NOTED]


def people_in(content: rt.Rich) -> set[str]:
    """The Teams people (bare timeline ids) that rich text mentions."""
    return {m.user.split(":", 1)[1] for m in _mentions(content) if m.user.startswith(f"{PLATFORM}:")}


def _mentions(content: rt.Rich) -> Iterator[rt.Mention]:
    for block in content.blocks:
        if isinstance(block, (rt.Paragraph, rt.Quote, rt.Heading)):
            yield from _inline(block.parts)
        elif isinstance(block, rt.Bullets):
            for item in block.items:
                yield from _inline(item)
        elif isinstance(block, rt.Table):
            for row in (block.header or (), *block.rows):
                for cell in row:
                    yield from _inline(cell)


def _inline(parts: Sequence[rt.Inline]) -> Iterator[rt.Mention]:
    for part in parts:
        if isinstance(part, rt.Mention):
            yield part
        elif isinstance(part, (rt.Strong, rt.Emph)):
            yield from _inline(part.parts)
