"""Client/server mode: two knowledge bases (as two processes would) share one Chroma server over HTTP."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from knowledge.kb import KnowledgeBase
from tests.knowledge.conftest import write


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A `chroma run` server on a free loopback port, stopped afterwards; skipped if it cannot start."""
    binary = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.skip("the chroma server binary is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [binary, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.skip("the chroma server did not start")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_processes_share_knowledge_through_a_chroma_server(
        open_kb: Callable[..., KnowledgeBase], chroma_server: str, tmp_path: Path) -> None:
    writer = open_kb(data_dir=tmp_path / "a", chroma_url=chroma_server)
    reader = open_kb(data_dir=tmp_path / "b", chroma_url=chroma_server.removeprefix("http://"))
    write(tmp_path / "rb", "disk.md", "# Disk full\n\n## Mitigation\n\nExpand the volume claim.\n")
    assert writer.ingest(tmp_path / "rb", "acme").added == 1
    assert [h.source for h in reader.search("acme", "expand volume claim")] == ["disk.md#mitigation"]
    writer.index_document("acme", "INC-9", "Queue backlog", "# INC-9\n\nRabbitMQ queue backlog grew.", kind="incident")
    assert reader.search("acme", "rabbitmq backlog", k=1)[0].source == "INC-9"
    assert reader.search("globex", "expand volume claim") == []
    assert writer.delete_org("acme") and reader.search("acme", "expand volume claim") == []
