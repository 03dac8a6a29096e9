"""What each output would make live (pings, mentions, links, HTML), judged by models of each platform.

Slack: the Slack emulator's token model (emulators/slack/renders.py). Teams and GitHub: a CommonMark
parser (markdown-it-py) plus Teams' `<at>` tags. Jira: a model of wiki markup's link, mention, image
and macro syntax. Each `*_live` function returns what a reader could click or be pinged by; each
`assert_*` function fails when any of it did not come from the allow-list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

from emulators.slack import renders

ZWSP = "\u200b"
_MD = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_MENTION = re.compile(r"(?<![\w@\\])@(?!\u200b)[A-Za-z0-9][\w.-]*")


def host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _check_links(found: Iterable[tuple[str, str]], allowed_links: Iterable[str], where: str) -> None:
    allowed = set(allowed_links)
    for target, label in found:
        assert target in allowed, f"{where}: link to {target!r} (label {label!r}) is not an allowed link"
        shown = label.strip()
        assert not shown or shown == host(target) or shown.endswith(f"({host(target)})"), \
            f"{where}: link to {target!r} is masked as {label!r}"


def assert_slack_quiet(found: Iterable[renders.Rendered | tuple[str, str, str]], *, users: Iterable[str] = (),
                       channels: Iterable[str] = (), links: Iterable[str] = (), where: str = "slack") -> None:
    """No broadcast or group mention; people, channels and links only from the allow-lists, links unmasked."""
    items = [(r.kind, r.target, r.label) if isinstance(r, renders.Rendered) else r for r in found]
    allowed_users, allowed_channels = set(users), set(channels)
    for kind, target, _label in items:
        assert kind not in ("broadcast", "usergroup"), f"{where}: Slack would ping {kind} {target!r}"
        if kind == "user":
            assert target in allowed_users, f"{where}: Slack would mention {target!r}"
        if kind == "channel":
            assert target in allowed_channels, f"{where}: Slack would link channel {target!r}"
    _check_links([(t, label) for kind, t, label in items if kind == "link"], links, where)


def slack_text_live(text: str, *, verbatim: bool = False) -> list[tuple[str, str, str]]:
    """Live tokens of one mrkdwn string."""
    return renders.tokens(text, verbatim=verbatim)


def markdown_live(text: str) -> dict[str, list[Any]]:
    """Links, images, HTML and @mentions a CommonMark/GitHub reader would get from `text`."""
    out: dict[str, list[Any]] = {"links": [], "images": [], "html": [], "mentions": []}

    def label_of(tokens: list[Any], start: int) -> str:
        parts = []
        for tok in tokens[start + 1:]:
            if tok.type == "link_close":
                break
            parts.append(tok.content)
        return "".join(parts)

    def walk(tokens: list[Any]) -> None:
        for i, tok in enumerate(tokens):
            if tok.type == "link_open":
                out["links"].append((tok.attrGet("href"), label_of(tokens, i)))
            elif tok.type == "image":
                out["images"].append(tok.attrGet("src"))
            elif tok.type in ("html_inline", "html_block"):
                out["html"].append(tok.content)
            elif tok.type == "text":
                out["mentions"] += _MENTION.findall(tok.content)
            if tok.children:
                walk(tok.children)

    walk(_MD.parse(text))
    return out


def markdown_text(text: str) -> str:
    """The text a Markdown reader sees (inline text and code, no markup)."""
    parts: list[str] = []

    def walk(tokens: list[Any]) -> None:
        for tok in tokens:
            if tok.type in ("text", "code_inline", "code_block", "fence"):
                parts.append(tok.content)
            elif tok.type in ("softbreak", "hardbreak"):
                parts.append("\n")
            if tok.children:
                walk(tok.children)

    walk(_MD.parse(text))
    return "".join(parts)


def assert_markdown_quiet(text: str, *, links: Iterable[str] = (), where: str = "markdown",
                          mentions_ok: bool = False) -> None:
    """No HTML, no image, no @mention; links only allowed ones, shown with their host."""
    live = markdown_live(text)
    assert not live["html"], f"{where}: HTML would render: {live['html'][:3]}"
    assert not live["images"], f"{where}: images would load: {live['images'][:3]}"
    assert mentions_ok or not live["mentions"], f"{where}: would mention {live['mentions'][:3]}"
    _check_links(live["links"], links, where)


def assert_teams_quiet(found: Iterable[tuple[str, str, str]], *, links: Iterable[str] = (),
                       mentions: Iterable[str] = (), where: str = "teams") -> None:
    """No `<at>` mention but of the allowed Teams ids (resolved through the activity's entities), no HTML tag;
    links only allowed ones, shown with their host."""
    items, allowed_mentions = list(found), set(mentions)
    for kind, target, _label in items:
        assert kind != "mention" or target in allowed_mentions, f"{where}: Teams would mention {target!r}"
        assert kind != "html", f"{where}: Teams would read HTML {target!r}"
    _check_links([(t, label) for kind, t, label in items if kind == "link"], links, where)


_JIRA_ESCAPED = re.compile(r"\\.")
_JIRA_BLOCK = re.compile(r"\{(code|noformat)\}.*?\{\1\}", re.DOTALL)
_JIRA_MONO = re.compile(r"\{\{.*?\}\}")  # monospace; what is inside was escaped
_JIRA_LINK = re.compile(r"\[([^\[\]|]*\|)?([^\[\]|]+)\]")
_JIRA_IMAGE = re.compile(r"!([^!\s]+)!")
_JIRA_MACRO = re.compile(r"\{[a-zA-Z]+(?::[^}]*)?\}")


def jira_live(markup: str) -> dict[str, list[Any]]:
    """Links, mentions, images and macros Jira's wiki renderer would make of `markup`."""
    text = _JIRA_MONO.sub(" ", _JIRA_BLOCK.sub(" ", _JIRA_ESCAPED.sub("\x00", markup)))
    out: dict[str, list[Any]] = {"links": [], "mentions": [], "images": _JIRA_IMAGE.findall(text),
                                 "macros": [m for m in _JIRA_MACRO.findall(text) if m != "{quote}"]}  # ours
    for match in _JIRA_LINK.finditer(text):
        target = match.group(2).strip()
        if target.startswith("~"):
            out["mentions"].append(target)
        else:
            out["links"].append((target, (match.group(1) or "").rstrip("|")))
    return out


def assert_jira_quiet(markup: str, *, links: Iterable[str] = (), where: str = "jira") -> None:
    """No mention, image or macro from text; links only allowed ones, shown with their host."""
    live = jira_live(markup)
    assert not live["mentions"], f"{where}: would mention {live['mentions'][:3]}"
    assert not live["images"], f"{where}: would embed {live['images'][:3]}"
    assert not live["macros"], f"{where}: macros outside code blocks: {live['macros'][:3]}"
    _check_links(live["links"], links, where)
