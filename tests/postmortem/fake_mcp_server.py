"""A local MCP server (FastMCP, mcp 1.x) standing in for GitHub's and Atlassian's: it records what it made.

Run as a script for stdio (`python fake_mcp_server.py STORE.json`) or build `server(store)` and serve it
over streamable HTTP in a test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcp.server.fastmcp import FastMCP


def server(store: Path, **settings: object) -> FastMCP:
    """Tools: create_pull_request, list_pull_requests (lookup) and createJiraIssue; state lives in `store`."""
    mcp = FastMCP("fake-forge", **settings)  # type: ignore[arg-type]

    def load() -> dict:
        return json.loads(store.read_text()) if store.exists() else {"pulls": [], "issues": []}

    def save(data: dict) -> None:
        store.write_text(json.dumps(data))

    @mcp.tool()
    def create_pull_request(owner: str, repo: str, title: str, head: str, base: str, body: str = "") -> str:
        """Open a pull request."""
        data = load()
        if any(p["head"] == head for p in data["pulls"]):
            raise ValueError(f"A pull request already exists for {owner}:{head}.")
        number = len(data["pulls"]) + 1
        url = f"https://forge.example/{owner}/{repo}/pull/{number}"
        data["pulls"].append({"number": number, "title": title, "head": head, "base": base, "body": body,
                              "html_url": url})
        save(data)
        return json.dumps({"number": number, "html_url": url})

    @mcp.tool()
    def list_pull_requests(owner: str, repo: str, head: str) -> str:
        """Pull requests whose head branch is `head`."""
        found = [p for p in load()["pulls"] if p["head"] == head]
        return json.dumps(found[0]) if found else "no pull requests"

    @mcp.tool()
    def createJiraIssue(projectKey: str, summary: str, description: str = "") -> str:  # noqa: N802, N803
        """Create a Jira issue (Atlassian's tool name and arguments)."""
        data = load()
        key = f"{projectKey}-{len(data['issues']) + 1}"
        data["issues"].append({"key": key, "summary": summary, "description": description})
        save(data)
        return f"Created {key}: https://acme.atlassian.net/browse/{key}"

    return mcp


if __name__ == "__main__":
    server(Path(sys.argv[1])).run("stdio")
