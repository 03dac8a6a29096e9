"""The offline guarantee: import, ingest and search with every non-loopback connection refused."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.knowledge.conftest import DEMO_DATA

GUARDED_RUN = textwrap.dedent(
    """
    import socket, sys
    attempts = []
    LOCAL = ("127.0.0.1", "::1", "localhost")
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family == getattr(socket, "AF_UNIX", None) or host in LOCAL:
            return real_connect(self, address)
        attempts.append(str(address))
        raise OSError(f"network access attempted: {address}")

    def getaddrinfo(host, *args, **kwargs):
        if host not in LOCAL and host is not None:
            attempts.append(f"dns:{host}")
            raise OSError(f"name resolution attempted: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.getaddrinfo = getaddrinfo

    from knowledge.kb import KnowledgeBase
    kb = KnowledgeBase(data_dir=sys.argv[1])
    report = kb.ingest(sys.argv[2], "org-offline")
    hits = kb.search("org-offline", "database says too many clients", k=3)
    alert = {"alerts": [{"labels": {"alertname": "KubeNodeNotReady"}}]}
    assert kb.search("org-offline", alert, k=1)
    assert report.added > 20 and hits, (report, hits)
    assert not attempts, attempts
    print("OFFLINE-OK", hits[0].source)
    """
)


def test_ingest_and_search_never_touch_the_network(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "NLTK", "TIKTOKEN", "TRANSFORMERS", "XDG_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    result = subprocess.run(
        [sys.executable, "-c", GUARDED_RUN, str(tmp_path / "data"), str(DEMO_DATA)],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OFFLINE-OK runbooks/postgres-connection-exhaustion.md" in result.stdout
    assert not (home / ".cache" / "chroma").exists()
