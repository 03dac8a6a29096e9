"""Per-org configuration from YAML: routing rules and project policies, validated before storing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.bootstrap import App
from incident_core.errors import ValidationError
from incident_core.routing import load_routing


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse the file; a syntax error names the line."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ValidationError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{path}: expected a mapping with `routing:` at the top")
    return data


def apply_org_config(app: App, org_id: str, path: str | Path) -> str:
    """Validate the routing, create projects it names, store it; returns a one-paragraph summary."""
    data = read_yaml(path)
    routing = data.get("routing", data)
    config = load_routing(routing)
    existing = {p.name for p in app.directory.projects(org_id)}
    created = []
    for name in sorted({config.default_project, *config.policies}):
        if name not in existing:
            policy = config.policy_for(name)
            app.directory.create_project(org_id, name, {
                "grouping_window_minutes": policy.grouping_window.total_seconds() / 60,
                "min_severity": policy.min_severity.value, "auto_channel": policy.auto_channel})
            created.append(name)
    org = app.directory.require_org(org_id)
    app.directory.update_org_settings(org_id, {**org.settings, "routing": routing})
    rules = ", ".join(f"{r.project} ← {' & '.join(str(m) for m in r.matchers)}" for r in config.rules) or "none"
    made = f"; created projects: {', '.join(created)}" if created else ""
    return f"routing loaded: default project {config.default_project}; rules: {rules}{made}"
