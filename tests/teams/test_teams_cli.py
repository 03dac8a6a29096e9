"""`revenant teams …` and `revenant demo --teams` as a user runs them (real processes)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

from bot.bootstrap import bootstrap
from bot.settings import Settings
from incident_core.chat_commands import SUBCOMMANDS
from tests.bot.test_cli import run

APP = "5f0c6b2a-1d2e-4c3b-9a8f-7e6d5c4b3a21"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_package_zips_the_manifest_and_icons(tmp_path: Path) -> None:
    out = run(["teams", "package", "--out", "app.zip", "--app-id", APP, "--website", "https://ops.example.org"],
              tmp_path)
    assert out.returncode == 0, out.stderr
    with zipfile.ZipFile(tmp_path / "app.zip") as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        assert png_size(zf.read("color.png")) == (192, 192) and png_size(zf.read("outline.png")) == (32, 32)
    bot = manifest["bots"][0]
    assert manifest["id"] == bot["botId"] == manifest["webApplicationInfo"]["id"] == APP
    assert bot["scopes"] == ["team", "groupChat", "personal"]
    commands = {c["title"] for lst in bot["commandLists"] for c in lst["commands"]}
    assert commands == set(SUBCOMMANDS)
    assert all(len(lst["commands"]) <= 10 for lst in bot["commandLists"])  # Teams' limit per command menu
    assert manifest["developer"]["privacyUrl"] == "https://ops.example.org/privacy"
    assert "{{" not in json.dumps(manifest)


def test_package_needs_a_guid_app_id(tmp_path: Path) -> None:
    missing = run(["teams", "package"], tmp_path)
    assert missing.returncode == 1 and "MICROSOFT_APP_ID" in missing.stderr and "Traceback" not in missing.stderr
    bad = run(["teams", "package", "--app-id", "not-a-guid"], tmp_path)
    assert bad.returncode == 1 and "GUID" in bad.stderr
    from_env = run(["teams", "package", "--out", "env.zip"], tmp_path, MICROSOFT_APP_ID=APP)
    assert from_env.returncode == 0 and (tmp_path / "env.zip").exists()


def test_channel_choice_per_project_and_for_the_org(tmp_path: Path) -> None:
    assert run(["org", "create", "acme"], tmp_path).returncode == 0
    assert run(["org", "project", "acme", "shop"], tmp_path).returncode == 0
    channel = "19:0123456789abcdef0123456789abcdef@thread.tacv2"
    assert run(["teams", "channel", "acme", channel, "--project", "shop"], tmp_path).returncode == 0
    assert run(["teams", "channel", "acme", "19:org-default@thread.tacv2"], tmp_path).returncode == 0
    assert run(["teams", "channel", "acme", "19:news@thread.tacv2", "--announce"], tmp_path).returncode == 0
    bad = run(["teams", "channel", "acme", "general"], tmp_path)
    assert bad.returncode == 1 and "19:" in bad.stderr
    app = bootstrap(Settings(data_dir=tmp_path, database_url=None))  # type: ignore[call-arg]
    try:
        org = app.directory.require_org("acme")
        assert app.directory.project(org.id, "shop").settings["teams_channel"] == channel  # type: ignore[union-attr]
        assert org.settings["teams"] == {"incident_channel": "19:org-default@thread.tacv2",
                                         "announce_channel": "19:news@thread.tacv2"}
    finally:
        app.close()


def test_demo_runs_the_incident_from_teams(tmp_path: Path) -> None:
    out = run(["demo", "--teams", "--data-dir", str(tmp_path / "demo")], tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "without a Bot Framework token → HTTP 401" in text
    assert "Incident Response › incidents" in text and "INC-1 — Checkout latency spike" in text
    assert "Status: 🟢 resolved" in text and "refused" in text
    assert "executed roll back deployment checkout" in text
    channels = run(["teams", "channels", "acme-demo", "--json"], tmp_path, REVENANT_DATA_DIR=str(tmp_path / "demo"))
    assert channels.returncode == 0, channels.stderr
    assert len(json.loads(io.StringIO(channels.stdout).read())) == 2  # General and incidents
