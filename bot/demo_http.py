"""The demo's webhook bodies and how it sends them: shipped samples, POSTed through real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from importlib import resources
from typing import Any


def payload(name: str) -> dict[str, Any]:
    """A shipped sample webhook body."""
    return json.loads(resources.files("bot").joinpath(f"demo_data/payloads/{name}.json").read_text())


def post(url: str, token: str, body: object) -> tuple[int, dict[str, Any]]:
    """POST a JSON webhook through real HTTP, as an alert sender would."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
