"""Teams markdown as a person reads it, and the live tokens Teams would render (mentions, links, HTML).

Teams reads CommonMark-style markdown in message text and in Adaptive Card TextBlocks and facts:
backslash escapes and entities are text, code spans are verbatim, `[label](url)` is a link (masked when
the label is not the URL's host), a bare URL is linked, and in message text `<at>…</at>` tags and some
HTML (`<a href>`) are live. This model reports all of them, so a test that finds nothing here has found
nothing Teams could mention or link.

A mention notifies someone only with its entity: `mention_problem` says what the Bot Connector would refuse
in an activity the bot sends (an entity whose text is not the next `<at>` tag of the text, a tag without an
entity, an entity without a member's `29:` id or a name), and `activity_tokens` reports a mention's target
as the id its entity names. An Adaptive Card carries its own entities in `msteams.entities`, matched to the
`<at>` tags of its TextBlocks and facts by their text (cards-format.md, "Mention support within Adaptive
Cards"): `card_mention_problem` checks them the same way, and `card_tokens` resolves a card's mentions.
"""

from __future__ import annotations

import html
import re
from typing import Any

_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_AT = re.compile(r"<at\b[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?[^)]*\)")
_HREF = re.compile(r"<a\b[^>]*href\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_BARE_URL = re.compile(r"(?<![\w(/\[])https?://[^\s<>()\[\]]+", re.IGNORECASE)


def _read(markdown: str) -> tuple[str, str]:
    """(what a person sees, what is left to parse): escapes and entities are text, code spans verbatim."""
    seen, scan, _where = _read_mapped(markdown)
    return seen, scan


def _read_mapped(markdown: str) -> tuple[str, str, list[int]]:
    """`_read`, plus for each character of what is left to parse the index in `markdown` it stands for."""
    seen: list[str] = []
    scan: list[str] = []
    where: list[int] = []
    plain: list[str] = []  # text since the last code span, entities still to decode

    def flush() -> None:
        seen.append(html.unescape("".join(plain)))
        plain.clear()

    i = 0
    while i < len(markdown):
        ch = markdown[i]
        if ch == "\\" and i + 1 < len(markdown) and markdown[i + 1] in _PUNCT:
            plain.append(markdown[i + 1] if markdown[i + 1] != "&" else "&amp;")
            scan.append("\x00")
            where.append(i + 1)
            i += 2
            continue
        if ch == "`":
            run = len(markdown[i:]) - len(markdown[i:].lstrip("`"))
            fence = "`" * run
            end = markdown.find(fence, i + run)
            while end != -1 and markdown[end + run:end + run + 1] == "`":
                end = markdown.find(fence, end + run + 1)
            if end != -1:
                flush()
                seen.append(markdown[i:end + run])
                scan.append(" ")
                where.append(end + run - 1)
                i = end + run
                continue
            plain.append(fence)
            scan.append(fence)
            where.extend(range(i, i + run))
            i += run
            continue
        plain.append(ch)
        scan.append(ch)
        where.append(i)
        i += 1
    flush()
    return "".join(seen), "".join(scan), where


def visible(markdown: str) -> str:
    """The text a person sees: escapes and entities resolved, code verbatim (emphasis markers kept)."""
    return _read(markdown)[0]


def tokens(markdown: str) -> list[tuple[str, str, str]]:
    """(kind, target, label) of every live mention, link and HTML tag in Teams markdown."""
    _seen, text, where = _read_mapped(markdown)  # code and escaped characters are text
    found: list[tuple[str, str, str]] = []
    for m in _AT.finditer(text):  # a mention as written (escapes in the name kept): what its entity must repeat
        written = markdown[where[m.start()]:where[m.end() - 1] + 1]
        found.append(("mention", (_AT.match(written) or m).group(1), written))
    found += [("link", m.group(2), m.group(1)) for m in _LINK.finditer(text)]
    found += [("link", m.group(1), "") for m in _HREF.finditer(text)]
    found += [("html", m.group(0), "") for m in _TAG.finditer(_AT.sub(" ", text))]
    found += [("link", m.group(0), "") for m in _BARE_URL.finditer(_LINK.sub(" ", text))]
    return found


def card_entities(card: Any) -> list[dict[str, Any]]:
    """The mention entities of an Adaptive Card (`msteams.entities`)."""
    teams = card.get("msteams") if isinstance(card, dict) else None
    entities = teams.get("entities") if isinstance(teams, dict) else None
    return [e for e in entities or [] if isinstance(e, dict) and e.get("type") == "mention"]


def card_tokens(card: Any) -> list[tuple[str, str, str]]:
    """Live tokens of an Adaptive Card: markdown of TextBlocks and facts, Action.OpenUrl targets; a mention's
    target is the id its entity (same text) names, else the name written in the tag."""
    by_text = {str(e.get("text")): str((e.get("mentioned") or {}).get("id") or "") for e in card_entities(card)}
    return [(kind, by_text.get(label) or target, label) if kind == "mention" else (kind, target, label)
            for kind, target, label in _card_tokens(card)]


def _card_tokens(card: Any) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "TextBlock":
            out.extend(tokens(str(node.get("text", ""))))
        if kind == "Action.OpenUrl":
            out.append(("link", str(node.get("url", "")), str(node.get("title", ""))))
        if "facts" in node:
            for fact in node.get("facts") or []:
                if isinstance(fact, dict):
                    out.extend(tokens(f"{fact.get('title', '')} {fact.get('value', '')}"))
        for key, value in node.items():
            if key not in ("text", "facts"):
                walk(value)

    walk(card)
    return out


def tags(markdown: str) -> list[str]:
    """The live `<at>…</at>` tags of message text, in order (those in code spans or escaped are text)."""
    return [label for kind, _target, label in tokens(markdown) if kind == "mention"]


def mention_entities(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """The activity's mention entities, in order."""
    return [e for e in activity.get("entities") or [] if isinstance(e, dict) and e.get("type") == "mention"]


def card_mention_problem(card: Any, members: set[str]) -> str | None:
    """Why Teams would not mention the card's people (None when each `<at>` tag of its TextBlocks and facts has
    exactly one entity with its text, and each entity a tag, naming a member by their `29:` id and a name)."""
    written = [label for kind, _target, label in _card_tokens(card) if kind == "mention"]
    entities = card_entities(card)
    texts = [str(e.get("text")) for e in entities]
    for tag in written:
        if texts.count(tag) != 1:
            return f"card tag {tag!r} has {texts.count(tag)} mention entities (one needed)"
    for entity in entities:
        if entity.get("text") not in written:
            return f"card entity {entity.get('text')!r} is no <at> tag of the card's text"
        problem = _account_problem(entity, members)
        if problem is not None:
            return f"card entity {entity.get('text')!r}: {problem}"
    return None


def _account_problem(entity: dict[str, Any], members: set[str]) -> str | None:
    """What is wrong with the account a mention entity names (a tenant member's `29:` id, with a name)."""
    raw = entity.get("mentioned")
    mentioned: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if mentioned.get("id") not in members:
        return f"{mentioned.get('id')!r} is not a member of the tenant"
    if not str(mentioned.get("name") or "").strip():
        return "the mentioned account has no name"
    return None


def mention_problem(activity: dict[str, Any], members: set[str]) -> str | None:
    """Why Teams would refuse or misplace the activity's mentions (None when each `<at>` tag of the text has
    its entity, in order, with the same text, naming a member of the tenant by their `29:` id, and each
    attached Adaptive Card passes `card_mention_problem`)."""
    for attachment in activity.get("attachments") or []:
        if isinstance(attachment, dict) and isinstance(attachment.get("content"), dict):
            problem = card_mention_problem(attachment["content"], members)
            if problem is not None:
                return problem
    entities = mention_entities(activity)
    found = tags(str(activity.get("text") or ""))
    if len(found) != len(entities):
        return f"{len(found)} <at> tag(s) in the text but {len(entities)} mention entit(y/ies)"
    for number, (tag, entity) in enumerate(zip(found, entities, strict=True), 1):
        if entity.get("text") != tag:
            return f"mention {number}: entity text {entity.get('text')!r} is not the tag {tag!r}"
        problem = _account_problem(entity, members)
        if problem is not None:
            return f"mention {number}: {problem}"
    return None


def activity_tokens(activity: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Live tokens of a message activity: its text (a mention's target is its entity's id, when the entity
    matches the tag) and every Adaptive Card attached."""
    entities = iter(mention_entities(activity))
    found = []
    for kind, target, label in tokens(str(activity.get("text") or "")):
        if kind == "mention":
            entity = next(entities, None)
            if entity is not None and entity.get("text") == label:
                target = str((entity.get("mentioned") or {}).get("id") or target)
        found.append((kind, target, label))
    for attachment in activity.get("attachments") or []:
        if isinstance(attachment, dict):
            found += card_tokens(attachment.get("content"))
    return found
