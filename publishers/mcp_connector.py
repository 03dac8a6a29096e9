"""MCP connector: publish by calling tools on a configured MCP server (stdio or streamable HTTP).

The org maps its server's tools in configuration, e.g. the GitHub MCP server's `create_pull_request`
or Atlassian's `createJiraIssue` (once per action item). Arguments are templates over the postmortem
(`{title}`, `{markdown}`, `{branch}`, `{item_title}` …). A `lookup` tool, when configured, runs first
and a URL in its answer means an earlier attempt already published: nothing is created twice.
Secrets stay in environment variables, referenced as `$NAME` in `env`/`headers` and resolved per call.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from incident_core.postmortem_render import PostmortemDocument
from incident_core.publishing import Publication, resolve_env
from publishers.errors import PublishError
from publishers.markdown import to_markdown

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_URL = re.compile(r"https?://[^\s\"'<>)\]]+")
_BASE_ENV = ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")


def template_context(doc: PostmortemDocument, item: dict[str, Any] | None = None) -> dict[str, str]:
    """The values tool-argument templates may use."""
    ctx = {"title": doc.title, "markdown": to_markdown(doc.content), "summary": doc.summary, "incident": doc.human_id,
           "incident_id": doc.incident_id, "date": doc.date, "branch": doc.branch, "path": doc.path,
           "label": doc.label, "severity": doc.severity, "approver": doc.approver,
           "idempotency_key": f"revenant-postmortem-{doc.incident_id}",
           "action_items_json": json.dumps(list(doc.action_items))}
    if item is not None:
        ctx |= {f"item_{k}": str(item.get(k) or "") for k in ("id", "title", "owner", "priority", "due", "kind")}
        ctx["idempotency_key"] = f"revenant-{doc.incident_id}-{item.get('id')}"
    return ctx


def render(value: Any, ctx: Mapping[str, str]) -> Any:
    """Fill `{name}` placeholders in every string of a JSON-like value (unknown names stay as written)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: ctx.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: render(v, ctx) for k, v in value.items()}
    return value


def result_text(result: CallToolResult) -> str:
    """The text of a tool result (structured content as JSON when there is no text)."""
    texts = [c.text for c in result.content if isinstance(c, TextContent)]
    if texts:
        return "\n".join(texts)
    return json.dumps(result.structuredContent) if result.structuredContent else ""


def first_url(text: str) -> str | None:
    """`html_url`/`url`/`self` of a JSON answer, else the first URL in the text."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("html_url", "url", "webUrl", "self"):
            if isinstance(data.get(key), str) and data[key].startswith("http"):
                return str(data[key])
    found = _URL.search(text)
    return found.group(0).rstrip(".,;:") if found else None


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class McpConnector:
    """Publisher port over the MCP Python SDK (1.x client API)."""

    def __init__(self, *, env: Mapping[str, str] | None = None, timeout: float = 30.0) -> None:
        self.env = dict(os.environ if env is None else env)
        self.timeout = timeout

    def publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        """Run the configured tool calls (from a worker thread: it runs its own event loop)."""
        try:
            return asyncio.run(asyncio.wait_for(self._publish(doc, config), timeout=self.timeout * 4))
        except Exception as exc:  # noqa: BLE001 — anyio wraps transport errors in exception groups
            leaf = _leaf(exc)
            if isinstance(leaf, PublishError):
                raise leaf from None
            if isinstance(leaf, TimeoutError):
                raise PublishError(f"the MCP server did not answer within {self.timeout * 4:.0f} s") from None
            raise PublishError(f"MCP call failed: {type(leaf).__name__}: {str(leaf)[:300]}") from None

    async def _publish(self, doc: PostmortemDocument, config: dict[str, Any]) -> Publication:
        async with self._session(config) as session:
            lookup = config.get("lookup")
            if lookup:
                found = await session.call_tool(str(lookup["tool"]),
                                                render(lookup.get("arguments") or {}, template_context(doc)))
                url = None if found.isError else first_url(result_text(found))
                if url:
                    return Publication(url=url, ref="found by lookup")
            urls: list[str] = []
            for call in config["calls"]:
                items = list(doc.action_items) if call.get("for_each") == "action_item" else [None]
                for item in items:
                    args = render(call.get("arguments") or {}, template_context(doc, item))
                    result = await session.call_tool(str(call["tool"]), args)
                    text = result_text(result)
                    if result.isError:
                        raise PublishError(f"MCP tool {call['tool']} failed: {text[:300]}")
                    urls.append(first_url(text) or "")
        main = next((u for u in urls if u), f"mcp://{config.get('name', 'server')}/{doc.slug}")
        return Publication(url=main, ref=", ".join(u for u in urls[1:] if u)[:200])

    @asynccontextmanager
    async def _session(self, config: dict[str, Any]) -> AsyncIterator[ClientSession]:
        timeout = timedelta(seconds=float(config.get("timeout", self.timeout)))
        if config.get("transport", "stdio") == "http":
            headers = resolve_env(config.get("headers") or {}, self.env)
            async with httpx.AsyncClient(headers=headers, timeout=timeout.total_seconds()) as http, \
                    streamable_http_client(str(config["url"]), http_client=http) as (read, write, _):
                async with ClientSession(read, write, read_timeout_seconds=timeout) as session:
                    await session.initialize()
                    yield session
            return
        env = {k: self.env[k] for k in _BASE_ENV if k in self.env}
        env |= resolve_env(config.get("env") or {}, self.env)
        params = StdioServerParameters(command=str(config["command"]), args=[str(a) for a in config.get("args", [])],
                                       env=env, cwd=config.get("cwd"))
        async with stdio_client(params) as (read, write), \
                ClientSession(read, write, read_timeout_seconds=timeout) as session:
            await session.initialize()
            yield session
