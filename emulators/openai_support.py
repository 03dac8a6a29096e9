"""OpenAI emulator support: scripted replies, JSON-schema checks and examples, deterministic embeddings."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]


@dataclass
class ChatReply:
    """One scripted answer to a chat completion: content, a refusal, tool calls, or an HTTP error."""

    content: str | None = None
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str = "stop"
    status: int = 200
    error: dict[str, Any] | None = None
    retry_after: float | None = None
    delay: float = 0.0


def reply(content: str | dict[str, Any] | list[Any]) -> ChatReply:
    """A normal answer; dicts and lists are sent as JSON text (what structured outputs return)."""
    return ChatReply(content=content if isinstance(content, str) else json.dumps(content))


def malformed_json(text: str = '{"summary": "Database failover', *, truncated: bool = False) -> ChatReply:
    """Content that is not valid JSON (optionally flagged as cut off by max_tokens)."""
    return ChatReply(content=text, finish_reason="length" if truncated else "stop")


def schema_violation(obj: Any) -> ChatReply:
    """Valid JSON that does not match the requested schema."""
    return ChatReply(content=json.dumps(obj))


def refusal(text: str = "I'm sorry, I can't help with that.") -> ChatReply:
    """A structured-output refusal (content null, refusal set)."""
    return ChatReply(refusal=text)


def tool_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> ChatReply:
    """The model asks to call a function."""
    cid = call_id or "call_" + hashlib.sha1(f"{name}{arguments}".encode()).hexdigest()[:24]  # noqa: S324
    call = {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return ChatReply(tool_calls=[call], finish_reason="tool_calls")


def rate_limited(retry_after: float = 1.0, message: str | None = None) -> ChatReply:
    """HTTP 429 with Retry-After (and retry-after-ms), as OpenAI sends on rate limits."""
    text = message or "Rate limit reached for requests per min (RPM). Please try again later."
    error = {"message": text, "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    return ChatReply(status=429, error=error, retry_after=retry_after)


def server_error(status: int = 500) -> ChatReply:
    """HTTP 5xx with OpenAI's server_error body."""
    text = "The server had an error while processing your request. Sorry about that!"
    return ChatReply(
        status=status, error={"message": text, "type": "server_error", "param": None, "code": None}
    )


def as_reply(item: ChatReply | str | dict[str, Any] | list[Any]) -> ChatReply:
    """Normalize a script item."""
    return item if isinstance(item, ChatReply) else reply(item)


@dataclass
class ScriptQueue:
    """Replies served in order to requests the matcher accepts."""

    matcher: Matcher | None
    replies: deque[ChatReply] = field(default_factory=deque)


def request_text(body: dict[str, Any]) -> str:
    """All message text of a chat request, for matching scripts."""
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def schema_name(body: dict[str, Any]) -> str | None:
    """The json_schema name of a chat request's response_format, if any."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return str((fmt.get("json_schema") or {}).get("name", ""))
    return None


def make_matcher(when: str | Matcher | None) -> Matcher | None:
    """A string matches the schema name or appears in the messages; a callable gets the request body."""
    if when is None or callable(when):
        return when
    needle = when

    def match(body: dict[str, Any]) -> bool:
        return schema_name(body) == needle or needle in request_text(body)

    return match


# ----- JSON schema -----


def strict_schema_errors(schema: Any, context: tuple[str, ...] = ()) -> list[str]:
    """What OpenAI rejects in a strict json_schema: open objects and optional properties."""
    errors: list[str] = []
    if not isinstance(schema, dict):
        return errors
    where = f"In context={context!r}"
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            errors.append(f"{where}, 'additionalProperties' is required to be supplied and to be false.")
        props = schema.get("properties") or {}
        missing = [k for k in props if k not in (schema.get("required") or [])]
        if missing:
            errors.append(
                f"{where}, 'required' is required to be supplied and to be an array including every key in "
                f"properties. Missing '{missing[0]}'."
            )
        for key, sub in props.items():
            errors.extend(strict_schema_errors(sub, (*context, "properties", key)))
    for key in ("items",):
        if key in schema:
            errors.extend(strict_schema_errors(schema[key], (*context, key)))
    for key in ("anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key) or []):
            errors.extend(strict_schema_errors(sub, (*context, key, str(i))))
    for name, sub in (schema.get("$defs") or schema.get("definitions") or {}).items():
        errors.extend(strict_schema_errors(sub, (*context, "$defs", name)))
    return errors


def example_for(schema: Any, root: dict[str, Any] | None = None, name: str = "value", depth: int = 0) -> Any:
    """A deterministic instance of a JSON schema (used when no reply is scripted)."""
    root = root if root is not None else schema if isinstance(schema, dict) else {}
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "$ref" in schema:
        target: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return example_for(target, root, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return example_for(options[0], root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: example_for(v, root, k, depth + 1) for k, v in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_for(schema.get("items", {}), root, name, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return f"emulated {name}"


# ----- embeddings -----

MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


def embed(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector: hashed bag of words and word bigrams, so similar texts score higher."""
    words = re.findall(r"\w+", text.lower())
    features = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    vec = [0.0] * dimensions
    for feature in features or [""]:
        digest = hashlib.sha256(feature.encode()).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        vec[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def count_tokens(text: str) -> int:
    """A rough token count (about 4 characters per token)."""
    return max(1, math.ceil(len(text) / 4)) if text else 0
