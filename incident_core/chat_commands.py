"""`/revenant …` text → an intent, for every chat platform (Slack slash command, Teams @mention)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from incident_core.errors import ValidationError
from incident_core.model import IncidentRole, Severity, Status

USAGE = """*Runbook Revenant* — `/revenant <command>`
• `declare <title> [sev1-4]` — open an incident and its channel (no title: a form)
• `status <investigating|identified|mitigated|resolved> [note]` — move the incident along
• `sev <1-4>` — change the severity
• `role <commander|comms|scribe> @user` — assign a role
• `note <text>` — add a note to the timeline
• `timeline` — the timeline so far
• `catchup` — a summary for someone joining late
• `update` — draft a status update (Conditions / Actions / Needs)
• `suggest` — next steps from runbooks and past incidents
• `postmortem` — draft the postmortem
• `list` — open incidents
• `patterns [service] [30d|90d]` — what keeps happening: recurring incidents, MTTA/MTTR, postmortems
• `help` — this message
Run incident commands inside the incident's channel."""

SUBCOMMANDS = ("declare", "status", "sev", "role", "note", "timeline", "catchup", "update", "suggest",
               "postmortem", "list", "patterns", "help")
_SEV = re.compile(r"^(?:sev)?([1-4])$", re.IGNORECASE)
_PERIOD = re.compile(r"^(\d{1,3})d$", re.IGNORECASE)
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$|^@?([A-Za-z0-9._-]+)$")


@dataclass(frozen=True)
class Intent:
    """What the person asked for, validated."""

    name: str
    title: str = ""
    text: str = ""
    severity: Severity | None = None
    status: Status | None = None
    role: IncidentRole | None = None
    user: str | None = None
    days: int | None = None


class UsageError(ValidationError):
    """Malformed command text; the message says how to write it."""


def parse(text: str) -> Intent:
    """Parse the text after `/revenant`; raises UsageError with the right usage line."""
    text = (text or "").strip()
    if not text:
        return Intent("help")
    head, _, rest = text.partition(" ")
    name, rest = head.lower(), rest.strip()
    if name not in SUBCOMMANDS:
        raise UsageError(f"unknown command `{head[:40]}`. Try `/revenant help`.")
    if name == "declare":
        return _declare(rest)
    if name == "status":
        word, _, note = rest.partition(" ")
        allowed = ("investigating", "identified", "mitigated", "resolved")
        if word.lower() not in allowed:
            raise UsageError("usage: `/revenant status <investigating|identified|mitigated|resolved> [note]`")
        return Intent("status", status=Status(word.lower()), text=note.strip())
    if name == "sev":
        match = _SEV.match(rest)
        if not match:
            raise UsageError("usage: `/revenant sev <1-4>` (SEV1 is the most severe)")
        return Intent("sev", severity=Severity.parse(match.group(1)))
    if name == "role":
        return _role(rest)
    if name == "note":
        if not rest:
            raise UsageError("usage: `/revenant note <text>`")
        return Intent("note", text=rest)
    if name == "patterns":
        return _patterns(rest)
    if rest and name in ("timeline", "catchup", "update", "list", "help", "suggest", "postmortem"):
        raise UsageError(f"`/revenant {name}` takes no arguments")
    return Intent(name)


def _declare(rest: str) -> Intent:
    if not rest:
        return Intent("declare")
    words = rest.split()
    severity = None
    if words and _SEV.match(words[-1]) and words[-1].lower().startswith("sev"):
        severity = Severity.parse(_SEV.match(words[-1]).group(1))  # type: ignore[union-attr]
        words = words[:-1]
    title = " ".join(words).strip()
    if not title:
        raise UsageError("usage: `/revenant declare <title> [sev1-4]`")
    if len(title) > 150:
        raise UsageError(f"the title is {len(title)} characters; keep it under 150")
    return Intent("declare", title=title, severity=severity)


def _role(rest: str) -> Intent:
    try:
        parts = shlex.split(rest)
    except ValueError:
        parts = rest.split()
    if len(parts) != 2:
        raise UsageError("usage: `/revenant role <commander|comms|scribe> @user`")
    role = IncidentRole.parse(parts[0])
    match = _MENTION.match(parts[1])
    if not match:
        raise UsageError("name the person with an @mention, e.g. `/revenant role scribe @dana`")
    return Intent("role", role=role, user=match.group(1) or match.group(2))


def _patterns(rest: str) -> Intent:
    usage = "usage: `/revenant patterns [service] [30d|90d]` (e.g. `/revenant patterns checkout 90d`)"
    words = rest.split()
    if len(words) > 2:
        raise UsageError(usage)
    days, service = None, ""
    for word in words:
        period = _PERIOD.match(word)
        if period and days is None:
            days = int(period.group(1))
            if not 1 <= days <= 366:
                raise UsageError("the period is 1–366 days, e.g. `30d` or `90d`")
        elif not service and _SERVICE.match(word):
            service = word
        else:
            raise UsageError(usage)
    return Intent("patterns", text=service, days=days)
