"""Routing signals to projects by label matchers (org YAML) and by project-bound tokens, over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.org_config import apply_org_config
from incident_core.errors import ValidationError
from tests.handlers.conftest import Server, fixture

CONFIG = """
routing:
  default_project: platform
  projects:
    - name: shop
      match: ['service=~"check.*"', 'cluster="prod-eu-1"']
      grouping_window_minutes: 10
      min_severity: error
    - name: payments
      match: ['service="payments-api"']
"""


async def test_labels_route_to_projects_and_policies_apply(server: Server, tmp_path: Path) -> None:
    org_id, token = server.org()
    (tmp_path / "org.yaml").write_text(CONFIG)
    summary = apply_org_config(server.app, org_id, tmp_path / "org.yaml")
    assert "created projects: payments, platform, shop" in summary
    projects = {p.name: p.id for p in server.app.directory.projects(org_id)}
    await server.post("alertmanager", fixture("alertmanager/firing_group"), token)
    await server.post("grafana", fixture("grafana/firing_values"), token)
    shop = server.app.queries.get(org_id, "INC-1")
    pay = server.app.queries.get(org_id, "INC-2")
    assert shop is not None and shop.project_id == projects["shop"]
    assert pay is not None and pay.project_id == projects["payments"]
    warning = {"title": "latency creeping", "severity": "warning", "service": "checkout",
               "labels": {"cluster": "prod-eu-1"}}
    _, body = await server.post("generic", warning, token)  # warning still attaches: min severity only gates opening
    assert body["signals"][0]["action"] == "attach"
    server.clock.advance(minutes=11)  # shop's window is 10 minutes
    again = dict(warning, severity="critical", title="checkout down", fingerprint="new-one")
    _, body = await server.post("generic", again, token)
    assert body["signals"][0]["action"] == "open"


async def test_project_bound_token_wins(server: Server) -> None:
    org_id, _ = server.org()
    ops = server.app.directory.create_project(org_id, "ops")
    token = server.app.directory.issue_token(org_id, project_id=ops.id)
    await server.post("alertmanager", fixture("alertmanager/firing_group"), token)
    incident = server.app.queries.get(org_id, "INC-1")
    assert incident is not None and incident.project_id == ops.id


def test_bad_config_is_refused_with_its_location(server: Server, tmp_path: Path) -> None:
    org_id, _ = server.org()
    bad = tmp_path / "bad.yaml"
    bad.write_text("routing:\n  default_project: p\n  projects:\n    - name: x\n      match: ['service=~\"(\"']\n")
    with pytest.raises(ValidationError, match=r"projects\[0\]\.match\[0\]"):
        apply_org_config(server.app, org_id, bad)
    bad.write_text("routing: [unclosed\n")
    with pytest.raises(ValidationError, match="line"):
        apply_org_config(server.app, org_id, bad)
