"""The timeline a person reads: people by name, and the actor column aligned whatever the names' lengths."""

from __future__ import annotations

from datetime import UTC, datetime

from incident_core import events as ev
from incident_core.timeline import render

AT = datetime(2026, 1, 15, 9, 56, tzinfo=UTC)


def _note(version: int, actor: str, text: str) -> ev.NoteAdded:
    return ev.NoteAdded(org_id="o1", incident_id="i1", version=version, occurred_at=AT, actor=actor, text=text)


def test_names_replace_ids_and_keep_the_column_aligned() -> None:
    names = {"slack:U0000000A": "al", "slack:U0000000B": "Bartholomew Longname"}
    lines = render([_note(1, "slack:U0000000A", "paged U0000000B"), _note(2, "slack:U0000000B", "on it"),
                    _note(3, "system", "hello")], names)
    assert lines[0].startswith("09:56:00  al ") and "paged Bartholomew Longname" in lines[0]
    assert lines[1].startswith("09:56:00  Bartholomew Longn… note: on it")  # a long name is cut to the column
    assert "U0000000" not in "".join(lines)
    starts = {line.index("note: ") for line in lines}
    assert len(starts) == 1, lines  # every description starts in the same column


def test_without_names_ids_are_shown_short() -> None:
    assert render([_note(1, "slack:U0000000A", "x")]) == [f"09:56:00  {'U0000000A':<18} note: x"]
