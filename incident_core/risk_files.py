"""Verdicts for commands that delete, write or change files: rm, find, dd, awk, sed, tee, chmod and kin."""

from __future__ import annotations

import re
from collections.abc import Callable

from incident_core.risk_danger import SYSTEM_DIRS, writes_system_path
from incident_core.risk_levels import M, R, Verdict, high, refuse
from incident_core.risk_shell import Invocation

Judge = Callable[[str], Verdict]

_BLOCK_DEVICE = re.compile(r"^of=/dev/(sd|hd|vd|xvd|nvme|mmcblk|disk|md|dm-|mapper/)", re.I)


def permissions(program: str, args: list[str]) -> Verdict:
    """chmod, chown and kin: always high; recursively on / or a system directory, refused."""
    recursive = any(a in ("-R", "--recursive") or re.match(r"^-[a-zA-Z]*R", a) for a in args)
    targets = [a for a in args if a.startswith("/")]
    if recursive and any(SYSTEM_DIRS.match(t) for t in targets):
        return refuse(f"{program} -R on / or a system directory opens up or gives away the whole system")
    open_up = any(a in ("777", "666", "a+rwx", "o+w", "a+w", "+s", "u+s", "4755") for a in args)
    scope = "recursively changes" if recursive else "changes"
    return high(f"{program} {scope} file permissions or ownership" + (" (opening them to everyone)" if open_up else ""))
def rm(inv: Invocation, part: str, judge: Judge) -> Verdict:
    """rm: high; recursively on / or a system directory, refused."""
    recursive = any(a in ("-r", "-R", "--recursive") or re.match(r"^-[a-zA-Z]*[rR]", a) for a in inv.args)
    targets = [a for a in inv.args if not a.startswith("-")]
    if "--no-preserve-root" in inv.args or (recursive and any(SYSTEM_DIRS.match(t) for t in targets)):
        return refuse("rm -r on / or a system directory deletes the system itself")
    return high("rm -r deletes whole directory trees" if recursive else "rm deletes files")
def find(inv: Invocation, part: str, judge: Judge) -> Verdict:
    """find: reads, unless it deletes (-delete) or runs a command on every match (-exec)."""
    args = inv.args
    start = next((a for a in args if not a.startswith("-")), ".")
    if "-delete" in args:
        if SYSTEM_DIRS.match(start):
            return refuse("find -delete on / or a system directory deletes the system itself")
        return high("find -delete deletes every match (a recursive delete)")
    for i, token in enumerate(args):
        if token in ("-exec", "-execdir", "-ok", "-okdir"):
            inner = " ".join(t for t in args[i + 1:] if t not in (";", "+", "{}")).split(" ; ", 1)[0]
            nested = judge(inner or "true")
            level = max(nested.level, M, key=lambda lv: lv.rank)
            return Verdict(level, f"find {token} runs a command on every match ({nested.what})", refused=nested.refused)
    if any(t.startswith(("-fprint", "-fls")) for t in args):
        return Verdict(M, "find -fprint writes files")
    return Verdict(R, "find only reads", True)
def dd(inv: Invocation, part: str, judge: Judge) -> Verdict:
    """dd: high; onto a disk device, refused."""
    if any(_BLOCK_DEVICE.match(a) for a in inv.args):
        return refuse("dd onto a disk device overwrites the disk")
    return high("dd writes raw data and can destroy it")
def awk(inv: Invocation, part: str, judge: Judge) -> Verdict:
    """awk: reads, unless its script runs commands or writes files."""
    script = " ".join(a for a in inv.args if not a.startswith("-"))
    if re.search(r"\bsystem\s*\(|\|\s*\"|\"\s*\||getline|\bprint[^;}]*>|\bprintf[^;}]*>", script):
        return high(f"{inv.program} runs commands or writes files from its script")
    return Verdict(R, f"{inv.program} only reads", True)
def sed(inv: Invocation, part: str, judge: Judge) -> Verdict:
    """sed: reads; -i edits files (medium, high for system files); the e and w commands are high."""
    in_place = any(a == "--in-place" or re.match(r"^-[a-zA-Z]*i", a) for a in inv.args)
    script = " ".join(a for a in inv.args if not a.startswith("-"))
    if re.search(r"(^|[;{}\s\d/$])e(\s|$)|/[gpIiwm0-9]*e[gpIiwm0-9]*(\s|;|$)|(^|[;{}\s\d])w\s+\S", script):
        return high("sed runs commands or writes files from its script")
    if in_place:
        targets = [a for a in inv.args if a.startswith("/")]
        if any(writes_system_path(t) for t in targets):
            return high("sed -i edits system files in place")
        return Verdict(M, "sed -i edits files in place")
    return Verdict(R, "sed only reads", True)
def tee(inv: Invocation, part: str, judge: Judge) -> Verdict:
    """tee: writes files (medium), system files high."""
    if any(writes_system_path(a) for a in inv.args if not a.startswith("-")):
        return high("tee overwrites system files")
    return Verdict(M, "tee writes its input into files")
