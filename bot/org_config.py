"""Per-org configuration from YAML: routing rules and project policies, validated before storing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.bootstrap import App
from bot.insights_wiring import history, tracker_for
from incident_core.errors import ValidationError
from incident_core.insights import DigestSchedule
from incident_core.postmortem_lessons import DraftPolicy
from incident_core.publishing import targets_for, validate_publishing
from incident_core.recurrence import recheck_open_incidents
from incident_core.reminders import ReminderPolicy
from incident_core.routing import load_routing
from incident_core.services.recurrence import recurrence_window


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


# The chat sections (docs/slack.md, docs/teams.md): each key's type; nothing else is accepted.
CHAT_SECTIONS: dict[str, dict[str, type]] = {
    "slack": {"announce_channel": str, "auto_channel": bool},
    "rooms": {"archive_after_hours": float},
    "teams": {"incident_channel": str, "announce_channel": str, "auto_channel": bool},
}


def apply_org_config(app: App, org_id: str, path: str | Path,
                     progress: Callable[[int, int], None] | None = None) -> str:
    """Validate and store routing, chat, publishing, reminder and postmortem settings; returns a summary.
    `progress(done, total)` follows the recheck of open incidents that a changed recurrence window starts."""
    data = read_yaml(path)
    extra: dict[str, Any] = {key: data[key] for key in ("publishing", "reminders", "postmortem") if key in data}
    chat = {key: _chat_section(key, data[key]) for key in CHAT_SECTIONS if key in data}
    lines = []
    if "routing" in data or not (extra or chat or "insights" in data):
        lines.append(_apply_routing(app, org_id, data.get("routing", data)))
    if chat:
        org = app.directory.require_org(org_id)
        merged = {key: {**(org.settings.get(key) or {}), **value} for key, value in chat.items()}
        app.directory.update_org_settings(org_id, {**org.settings, **merged})
        lines.append(f"{', '.join(chat)} settings stored")
    if extra:
        lines.append(_apply_postmortem_settings(app, org_id, extra))
    if "insights" in data:
        lines.append(_apply_insights(app, org_id, data["insights"], progress))
    return "\n".join(lines)


def _chat_section(key: str, value: Any) -> dict[str, Any]:
    """One of `slack:`, `rooms:`, `teams:`, checked key by key (a mistake names the key, never dropped)."""
    if not isinstance(value, dict):
        raise ValidationError(f"{key}: expected a mapping of settings, got {type(value).__name__}")
    allowed = CHAT_SECTIONS[key]
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValidationError(f"{key}: unknown setting(s) {', '.join(map(str, unknown))}; known: {', '.join(allowed)}")
    out: dict[str, Any] = {}
    for name, kind in allowed.items():
        if name not in value:
            continue
        item = value[name]
        if kind is bool and not isinstance(item, bool):
            raise ValidationError(f"{key}.{name}: expected true or false")
        if kind is str and (not isinstance(item, str) or not item.strip() or len(item) > 200):
            raise ValidationError(f"{key}.{name}: expected a channel name or id")
        if kind is float and (isinstance(item, bool) or not isinstance(item, int | float) or not 0 < item <= 8760):
            raise ValidationError(f"{key}.{name}: expected a number of hours between 0 and 8760")
        out[name] = item.strip() if isinstance(item, str) else item
    return out


def _apply_insights(app: App, org_id: str, raw: Any, progress: Callable[[int, int], None] | None) -> str:
    """`insights:` — recurrence_days, the org's weekly digest, and per-project digests under `projects:`."""
    if not isinstance(raw, dict):
        raise ValidationError("insights: expected a mapping (recurrence_days, digest, projects)")
    days = raw.get("recurrence_days", 30)
    if not isinstance(days, int) or not 1 <= days <= 366:
        raise ValidationError("insights.recurrence_days must be a whole number of days, 1–366")
    DigestSchedule.from_settings(raw.get("digest"))
    projects = raw.get("projects") or {}
    if not isinstance(projects, dict):
        raise ValidationError("insights.projects: expected a mapping of project name → {digest: …}")
    found = {}
    for name, settings in projects.items():
        project = app.directory.project(org_id, str(name))
        if project is None:
            raise ValidationError(f"insights.projects names an unknown project {name!r}; create it first")
        DigestSchedule.from_settings((settings or {}).get("digest") if isinstance(settings, dict) else settings)
        found[project.id] = (project, settings)
    for project, settings in found.values():
        app.directory.update_project_settings(org_id, project.id, {**project.settings, "insights": dict(settings)})
    org = app.directory.require_org(org_id)
    before = recurrence_window(org.settings)
    app.directory.update_org_settings(org_id, {**org.settings, "insights": {
        k: v for k, v in raw.items() if k != "projects"}})
    where = ["org"] * bool(raw.get("digest")) + [p.name for p, s in found.values() if (s or {}).get("digest")]
    stored = f"insights settings stored (recurrence window {days} days; weekly digest for: {', '.join(where) or 'none'})"
    if before == timedelta(days=days):
        return stored
    checked, recorded = recheck_open_incidents(deps=app.deps, queries=app.queries, history=history(app),
                                               tracker=tracker_for(app)(org_id), org_id=org_id,
                                               window=timedelta(days=days), progress=progress)
    return (f"{stored}; the window changed from {before.days} days: {checked} open incident(s) checked again, "
            f"{recorded} recurrence line(s) updated")


def _apply_routing(app: App, org_id: str, routing: dict[str, Any]) -> str:
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


def _apply_postmortem_settings(app: App, org_id: str, extra: dict[str, Any]) -> str:
    """`publishing:` (targets, per-project overrides), `reminders:` and `postmortem:` (draft targets)."""
    out = []
    if "publishing" in extra:
        extra["publishing"] = validate_publishing(extra["publishing"])
        known = {p.name for p in app.directory.projects(org_id)}
        unknown = set(extra["publishing"].get("projects", {})) - known
        if unknown:
            raise ValidationError(f"publishing.projects names unknown projects: {', '.join(sorted(unknown))}; "
                                  "create them first (`revenant org project ORG NAME`)")
        targets = targets_for({"publishing": extra["publishing"]})
        out.append(f"publishing to {', '.join(targets)}")
    for key, parse in (("reminders", ReminderPolicy.from_settings), ("postmortem", DraftPolicy.from_settings)):
        if key in extra:
            try:
                parse(extra[key])
            except (TypeError, ValueError, AttributeError) as exc:
                raise ValidationError(f"{key}: {exc}") from None
            out.append(f"{key} settings stored")
    org = app.directory.require_org(org_id)
    app.directory.update_org_settings(org_id, {**org.settings, **extra})
    return "; ".join(out)
