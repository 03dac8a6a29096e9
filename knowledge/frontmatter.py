"""Front matter at the top of a Markdown file: YAML between '---' lines or TOML-ish between '+++'."""

from __future__ import annotations

import re
from typing import Any

import yaml

_YAML_BLOCK = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_TOML_BLOCK = re.compile(r"\A\ufeff?\+\+\+[ \t]*\n(.*?)\n\+\+\+[ \t]*(?:\n|\Z)", re.S)
_KEY_VALUE = re.compile(r"^([A-Za-z_][\w\-]*)\s*[:=]\s*(.*)$")


def split_front_matter(markdown: str) -> tuple[dict[str, Any], str]:
    """Return (front matter as a dict, the remaining body); an absent or unreadable block gives {}."""
    match = _YAML_BLOCK.match(markdown)
    if match:
        return _parse_yaml(match.group(1)), markdown[match.end() :]
    match = _TOML_BLOCK.match(markdown)
    if match:
        return _parse_loose(match.group(1)), markdown[match.end() :]
    return {}, markdown


def _parse_yaml(block: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError:
        return _parse_loose(block)
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {}


def _parse_loose(block: str) -> dict[str, Any]:
    """Parse 'key: value' / 'key = value' lines; values in [a, b] become lists."""
    data: dict[str, Any] = {}
    for line in block.split("\n"):
        match = _KEY_VALUE.match(line.strip())
        if not match:
            continue
        key, value = match.group(1), match.group(2).strip()
        if value.startswith("[") and value.endswith("]"):
            data[key] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
        else:
            data[key] = _unquote(value)
    return data


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def as_list(value: Any) -> list[str]:
    """A front-matter value as a list of non-empty strings ('a, b' and ['a', 'b'] both work)."""
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]
