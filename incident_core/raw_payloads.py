"""A delivery's raw payload is stored once; each of its signals references its own item in it.

A webhook delivery (an Alertmanager group of 50 alerts, an OTLP batch) used to leave a copy of each
alert's raw item inside every signal event. Now the handler gives every signal the whole payload and the
JSON pointer (RFC 6901) of its item; the event keeps only that reference, and the payload is written once
per delivery, in the same transaction, keyed by a hash of its content (a redelivery finds it there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from incident_core.signals import RawRef, Signal


def payload_id(payload: Any) -> str:
    """A stable id from the payload's content."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _pointers(value: Any, at: str, wanted: set[int], out: dict[int, str]) -> bool:
    """Record in `out` the pointer of each object whose id is in `wanted`, where a pre-order walk meets it
    first; True once all are found (the walk then stops: an alert group's labels are never visited)."""
    if id(value) in wanted and id(value) not in out:
        out[id(value)] = at
        if len(out) == len(wanted):
            return True
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and _pointers(
                    item, f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}", wanted, out):
                return True
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list) and _pointers(item, f"{at}/{index}", wanted, out):
                return True
    return False


def referencing(signals: Sequence[Signal], payload: Any) -> list[Signal]:
    """The signals, each pointing into `payload` when its raw item is part of it (found by identity: the
    normalizers hand over the parsed item itself). A signal whose raw was built elsewhere keeps it inline."""
    where: dict[int, str] = {}
    wanted = {id(s.raw) for s in signals if isinstance(s.raw, dict)}  # the walk records objects (dicts) only
    if wanted:
        _pointers(payload, "", wanted, where)
    pid = payload_id(payload) if where else ""
    return [s.placed(raw_ref=RawRef(pid, where[id(s.raw)]), payload=payload) if id(s.raw) in where else s
            for s in signals]


def resolve(payload: Any, pointer: str) -> Any:
    """The item at `pointer` in `payload` (RFC 6901); KeyError/IndexError when it is not there."""
    value = payload
    for part in pointer.split("/")[1:] if pointer else ():
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value
