"""Small builders shared by tests."""

from __future__ import annotations

import json
import multiprocessing as mp
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.bootstrap import App
from incident_core import usecases as uc
from incident_core.model import OrgRole, Severity
from incident_core.ports import Org


@dataclass
class World:
    app: App
    org: Org

    @property
    def deps(self) -> uc.Deps:
        return self.app.deps


def new_org(app: App, name: str | None = None, *, members: dict[str, OrgRole] | None = None) -> World:
    org = app.directory.create_org(name or f"org-{uuid.uuid4().hex[:10]}")
    for user, role in (members or {}).items():
        app.directory.set_role(org.id, user, role)
    return World(app=app, org=org)


def declare(world: World, title: str = "API errors", *, actor: str = "u:alice",
            severity: Severity = Severity.SEV3) -> uc.Result:
    return uc.declare_incident(deps=world.deps, org_id=world.org.id, actor=actor, title=title, severity=severity)


def _report(target: Callable[..., object], args: tuple[object, ...], out: mp.Queue) -> None:
    try:
        out.put(("ok", target(*args)))
    except Exception as exc:  # noqa: BLE001 — reported to the parent
        out.put(("error", f"{args}: {exc!r}"))


def in_processes(target: Callable[..., object], argument_lists: list[tuple[object, ...]], *,
                 timeout: float = 300) -> list[object]:
    """Run `target(*args)` in one spawned process per argument list; their results (any error fails the test)."""
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_report, args=(target, args, out)) for args in argument_lists]
    for p in procs:
        p.start()
    results = [out.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(status == "ok" for status, _ in results), results
    return [value for _, value in results]


def post_hook(base_url: str, token: str, source: str, body: Any, *, timeout: float = 30.0) -> int:
    """POST one webhook delivery as a monitoring system would; its HTTP status (an error status too)."""
    req = urllib.request.Request(f"{base_url}/hooks/{source}", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
