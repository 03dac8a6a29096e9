"""Where approved postmortems go: per-org/per-project target configuration and the publisher ports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from incident_core import richtext as rt
from incident_core.errors import ValidationError
from incident_core.postmortem_draft import Draft
from incident_core.postmortem_render import PostmortemDocument

KNOWLEDGE = "knowledge"
DIRECT = ("github", "jira", "slack")
_REPO = re.compile(r"^[\w.-]+/[\w.-]+$")
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,19}$")
_ENV_REF = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")
_SECRET_KEYS = re.compile(r"(?i)authorization|token|secret|password|api[-_]?key")


@dataclass(frozen=True)
class Publication:
    """Where a publisher put the postmortem: a URL people open and an external reference."""

    url: str
    ref: str = ""


class Publisher(Protocol):
    """One destination (GitHub, Jira, Slack, an MCP server, the knowledge base); idempotent per incident."""

    def publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        """Publish (or find what an earlier attempt published) and say where it is."""
        ...


class Narrator(Protocol):
    """Optionally rephrases a draft's narrative; must return the draft unchanged when it cannot."""

    def narrate(self, draft: Draft, *, known_versions: set[int]) -> Draft: ...


def _need(cfg: dict[str, Any], key: str, where: str) -> str:
    value = cfg.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{where}.{key} is required")
    return value.strip()


def _no_inline_secrets(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if _SECRET_KEYS.search(str(k)) and isinstance(v, str) and not _ENV_REF.search(v):
                raise ValidationError(rt.doc(rt.para(
                    f"{where}.{k} looks like a secret: keep it in an environment variable and write ", rt.code("$NAME"),
                    " here (e.g. ", rt.code("Bearer $GITHUB_TOKEN"), ")")))
            _no_inline_secrets(v, f"{where}.{k}")


def _mcp(name: str, cfg: Any, where: str) -> dict[str, Any]:
    if not isinstance(cfg, dict):
        raise ValidationError(f"{where} must be a mapping")
    transport = str(cfg.get("transport", "stdio"))
    if transport == "stdio":
        _need(cfg, "command", where)
        if not isinstance(cfg.get("args", []), list):
            raise ValidationError(f"{where}.args must be a list")
    elif transport == "http":
        if not _need(cfg, "url", where).startswith(("http://", "https://")):
            raise ValidationError(f"{where}.url must be an http(s) URL")
    else:
        raise ValidationError(f"{where}.transport must be stdio or http")
    calls = cfg.get("calls")
    if not isinstance(calls, list) or not calls:
        raise ValidationError(f"{where}.calls must list the tools to call, e.g. "
                              "[{tool: create_pull_request, arguments: {...}}]")
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("tool"), str):
            raise ValidationError(f"{where}.calls[{i}].tool is required")
        if call.get("for_each", "postmortem") not in ("postmortem", "action_item"):
            raise ValidationError(f"{where}.calls[{i}].for_each must be postmortem or action_item")
        if not isinstance(call.get("arguments", {}), dict):
            raise ValidationError(f"{where}.calls[{i}].arguments must be a mapping")
    lookup = cfg.get("lookup")
    if lookup is not None and (not isinstance(lookup, dict) or not isinstance(lookup.get("tool"), str)):
        raise ValidationError(f"{where}.lookup must name a tool that finds an earlier publication")
    _no_inline_secrets({k: v for k, v in cfg.items() if k in ("headers", "env")}, where)
    return dict(cfg)


def validate_targets(raw: Any, where: str = "publishing") -> dict[str, Any]:
    """Check one `publishing:` mapping (without `projects:`); returns it normalized."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} must be a mapping of targets (github, jira, slack, mcp)")
    out: dict[str, Any] = {}
    for key, cfg in raw.items():
        at = f"{where}.{key}"
        if key == "projects":
            continue
        if key not in (*DIRECT, "mcp"):
            raise ValidationError(f"{at}: unknown target; use github, jira, slack or mcp")
        if cfg is None or cfg is False:
            out[key] = None  # switched off (a project can turn off an org target)
            continue
        if not isinstance(cfg, dict):
            raise ValidationError(f"{at} must be a mapping")
        if key == "github" and not _REPO.match(_need(cfg, "repo", at)):
            raise ValidationError(f"{at}.repo must look like owner/name")
        if key == "jira" and not _PROJECT_KEY.match(_need(cfg, "project", at)):
            raise ValidationError(f"{at}.project must be a Jira project key such as OPS")
        if key == "slack":
            _need(cfg, "channel", at)
        out[key] = {n: _mcp(n, c, f"{at}.{n}") for n, c in cfg.items()} if key == "mcp" else dict(cfg)
    return out


def validate_publishing(raw: Any) -> dict[str, Any]:
    """Check an org's `publishing:` settings, including per-project overrides under `projects:`."""
    out = validate_targets(raw)
    projects = (raw or {}).get("projects") if isinstance(raw, dict) else None
    if projects is not None:
        if not isinstance(projects, dict):
            raise ValidationError("publishing.projects must map project names to targets")
        out["projects"] = {name: validate_targets(cfg, f"publishing.projects.{name}")
                           for name, cfg in projects.items()}
    return out


def targets_for(org_settings: dict[str, Any], project_settings: dict[str, Any] | None = None,
                project_name: str | None = None) -> dict[str, Any]:
    """Target name → config for one incident: org targets, overridden per project; `knowledge` always.

    Project overrides come from the org's `publishing.projects.<name>` (what `revenant org config` stores)
    and from the project's own settings under `publishing`.
    """
    org = dict(org_settings.get("publishing") or {})
    by_project = dict(org.pop("projects", None) or {})
    merged = {**org, **dict(by_project.get(project_name or "") or {}),
              **dict((project_settings or {}).get("publishing") or {})}
    out: dict[str, Any] = {}
    for key, cfg in merged.items():
        if cfg is None:
            continue
        if key == "mcp":
            out.update({f"mcp:{name}": c for name, c in cfg.items() if c})
        else:
            out[key] = cfg
    out[KNOWLEDGE] = {}
    return out


def resolve_env(value: Any, env: dict[str, str] | Any) -> Any:
    """Replace `$NAME` references with environment values (at call time, never stored or logged)."""
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: str(env.get(m.group(1), "")), value)
    if isinstance(value, list):
        return [resolve_env(v, env) for v in value]
    if isinstance(value, dict):
        return {k: resolve_env(v, env) for k, v in value.items()}
    return value
