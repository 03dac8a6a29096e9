"""The `revenant` CLI as a user runs it: real processes, one-line errors, JSON contracts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REVENANT = str(Path(sys.executable).parent / "revenant")


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("REVENANT_", "SLACK_", "OPENAI_"))}
    full_env.update({"REVENANT_DATA_DIR": str(data_dir), **env})
    return subprocess.run([REVENANT, *args], capture_output=True, text=True, env=full_env, cwd=data_dir,
                          timeout=120)


def test_help_lists_the_contract_commands(tmp_path: Path) -> None:
    out = run(["--help"], tmp_path)
    assert out.returncode == 0
    for name in ("serve", "worker", "db", "org", "incidents", "projections", "demo"):
        assert name in out.stdout


def test_org_create_json_then_incidents_list(tmp_path: Path) -> None:
    created = run(["org", "create", "acme", "--json"], tmp_path)
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert set(body) == {"id", "name", "webhook_token"} and body["name"] == "acme"
    assert body["webhook_token"].startswith("rvn_")
    listed = run(["incidents", "list", "--org", "acme", "--json"], tmp_path)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    by_id = run(["incidents", "list", "--org", body["id"], "--json"], tmp_path)
    assert by_id.returncode == 0


def test_user_mistakes_are_one_line_without_traceback(tmp_path: Path) -> None:
    out = run(["incidents", "list", "--org", "nope"], tmp_path)
    assert out.returncode == 1
    assert "no org named or with id 'nope'" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    run(["org", "create", "acme"], tmp_path)
    dup = run(["org", "create", "acme"], tmp_path)
    assert dup.returncode == 1 and "already exists" in dup.stderr and "Traceback" not in dup.stderr
    missing = run(["incidents", "show", "--org", "acme", "INC-9"], tmp_path)
    assert missing.returncode == 1 and "no incident 'INC-9'" in missing.stderr


@pytest.mark.parametrize("var,value,expect", [
    ("REVENANT_DATABASE_URL", "mysql://db", "REVENANT_DATABASE_URL"),
    ("SLACK_BOT_TOKEN", "changeme", "SLACK_BOT_TOKEN"),
    ("REVENANT_EMBEDDINGS", "magic", "REVENANT_EMBEDDINGS"),
])
def test_invalid_settings_name_the_variable(tmp_path: Path, var: str, value: str, expect: str) -> None:
    out = run(["incidents", "list", "--org", "x"], tmp_path, **{var: value})
    assert out.returncode == 2
    assert expect in out.stderr and "Traceback" not in out.stderr


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REVENANT_DATABASE_URL=oracle://nope\n")
    out = run(["incidents", "list", "--org", "x"], tmp_path)
    assert out.returncode == 2 and "REVENANT_DATABASE_URL" in out.stderr


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    out = run(["org", "list"], tmp_path, REVENANT_DATABASE_URL="postgresql://nobody@127.0.0.1:1/x")
    assert out.returncode == 1
    assert "check REVENANT_DATABASE_URL" in out.stderr and "Traceback" not in out.stderr


def test_db_upgrade_and_projection_rebuild(tmp_path: Path) -> None:
    up = run(["db", "upgrade"], tmp_path)
    assert up.returncode == 0 and "revision" in up.stdout
    run(["org", "create", "acme"], tmp_path)
    rebuilt = run(["projections", "rebuild"], tmp_path)
    assert rebuilt.returncode == 0 and "rebuilt 0 incidents" in rebuilt.stdout


def test_link_commands_bind_platforms(tmp_path: Path) -> None:
    run(["org", "create", "acme"], tmp_path)
    assert run(["org", "link-slack", "acme", "T123"], tmp_path).returncode == 0
    assert run(["org", "link-teams", "acme", "tenant-1"], tmp_path).returncode == 0
    rotated = run(["org", "token", "rotate", "acme", "--grace-hours", "2"], tmp_path)
    assert rotated.returncode == 0 and "rvn_" in rotated.stdout


def test_demo_runs_offline_and_prints_the_timeline(tmp_path: Path) -> None:
    out = run(["demo", "--data-dir", str(tmp_path / "demo")], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "INC-1" in out.stdout and "status mitigated → resolved" in out.stdout
    assert "refused" in out.stdout  # the viewer's note and the invalid transition are shown refused
    # The same alert recurs: the war room says so, and Monday's digest posts its chart, also written to a file.
    assert "2nd time in 30 days: INC-1 · postmortem of INC-1 · 2 action items still" in out.stdout
    chart = tmp_path / "demo" / "digest-chart.png"
    assert f"written to {chart}" in out.stdout and "Weekly incident digest — acme-demo" in out.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5_000
    timeline = run(["incidents", "timeline", "--org", "acme-demo", "INC-1", "--json"], tmp_path,
                   REVENANT_DATA_DIR=str(tmp_path / "demo"))
    assert timeline.returncode == 0, timeline.stderr
    events = json.loads(timeline.stdout)
    assert events[0]["type"] == "IncidentDeclared"
    assert all({"type", "occurred_at", "actor", "data"} <= set(e) for e in events)


def test_socket_mode_without_app_token_is_one_clear_line(tmp_path: Path) -> None:
    out = run(["serve", "--socket-mode", "--port", "0"], tmp_path, SLACK_SIGNING_SECRET="s3cr3t-signing",
              SLACK_BOT_TOKEN="xoxb-1")
    assert out.returncode == 1 and "SLACK_APP_TOKEN" in out.stderr and "Traceback" not in out.stderr


def test_mcp_refuses_a_token_on_the_command_line(tmp_path: Path) -> None:
    out = run(["mcp", "--token", "rvn_0123456789abcdef0123456789abcdef_secret"], tmp_path)
    assert out.returncode != 0 and "ps" in out.stderr and "REVENANT_MCP_TOKEN" in out.stderr
    assert "Traceback" not in out.stderr
    missing = run(["mcp"], tmp_path)
    assert missing.returncode != 0 and "REVENANT_MCP_TOKEN" in missing.stderr


def test_three_concurrent_db_upgrades_all_succeed(tmp_path: Path) -> None:
    import uuid

    import sqlalchemy as sa

    from storage.scratch import admin_engine
    from tests.conftest import ADMIN_URL, REQUIRE_PG

    name = f"revenant_upgrade_{uuid.uuid4().hex[:8]}"
    try:
        with admin_engine(ADMIN_URL).connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        if REQUIRE_PG:
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + f"/{name}"
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REVENANT_", "SLACK_", "OPENAI_"))}
        env.update({"REVENANT_DATA_DIR": str(tmp_path), "REVENANT_DATABASE_URL": url})
        procs = [subprocess.Popen([REVENANT, "db", "upgrade"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env, cwd=tmp_path) for _ in range(3)]
        results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
        for code, out, err in results:
            assert code == 0 and "revision" in out, err
        assert len({out for _, out, _ in results}) == 1  # all at the same revision
    finally:
        with admin_engine(ADMIN_URL).connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_search_says_so_when_the_orgs_documents_live_in_another_store(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    (tmp_path / "ingested").mkdir()
    (tmp_path / "elsewhere").mkdir()
    runbooks = Path(__file__).resolve().parents[2] / "bot" / "demo_data" / "runbooks"
    assert run(["org", "create", "acme"], tmp_path / "ingested", REVENANT_DATABASE_URL=db).returncode == 0
    ingested = run(["knowledge", "ingest", str(runbooks), "--org", "acme"], tmp_path / "ingested",
                   REVENANT_DATABASE_URL=db)
    assert ingested.returncode == 0, ingested.stderr
    found = run(["knowledge", "search", "--org", "acme", "--json", "checkout 5xx"], tmp_path / "ingested",
                REVENANT_DATABASE_URL=db)
    assert found.returncode == 0 and json.loads(found.stdout)
    lost = run(["knowledge", "search", "--org", "acme", "--json", "checkout 5xx"], tmp_path / "elsewhere",
               REVENANT_DATABASE_URL=db)  # no REVENANT_CHROMA_URL, another data dir: an empty embedded store
    assert lost.returncode == 1 and "holds none of them" in lost.stderr and "REVENANT_CHROMA_URL" in lost.stderr


def test_org_config_reports_the_recheck_and_keeps_piped_stderr_clean(tmp_path: Path) -> None:
    """A changed recurrence window rechecks open incidents with a progress bar on a terminal only: piped, the
    command prints its summary and nothing else."""
    assert run(["org", "create", "acme"], tmp_path).returncode == 0
    config = tmp_path / "insights.yml"
    config.write_text("insights:\n  recurrence_days: 7\n")
    out = run(["org", "config", "acme", str(config)], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "window changed from 30 days: 0 open incident(s) checked again" in out.stdout
    assert out.stderr == ""
