"""Runbook sources kept in sync: the GitHub emulator and a local git checkout, incremental by blob SHA, the
push webhook (X-Hub-Signature-256), the CLI and the tenancy wall, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from bot.bootstrap import App
from bot.cli import cli
from bot.server import build_web_app
from bot.source_sync import sync_one
from emulators.github import GitHubEmulator
from incident_core.knowledge_sources import KnowledgeSource, SourceError
from knowledge.embeddings import HashingEmbedding
from knowledge.kb import KnowledgeBase
from tests.conftest import make_app, unique

PAGER = ("# Pager storms\n\nThe on-call phone rings every minute with duplicate pages.\n\n## Mitigation\n\n"
         "1. Silence it:\n\n   ```bash\n   amtool silence add alertname=PagerStorm\n   ```\n")
QUEUE = "# Mailer queue stuck\n\nOutgoing mail waits in the mailer queue for hours.\n"
VPN = "# VPN tunnel flaps\n\nThe site-to-site tunnel drops every few minutes.\n"


@pytest.fixture
def gh() -> Iterator[GitHubEmulator]:
    with GitHubEmulator(tokens={"ghp-test"}) as emu:
        emu.create_repo("acme", "runbooks", files={
            "README.md": "# Runbooks\n", "runbooks/pager.md": PAGER, "runbooks/mailer.md": QUEUE,
            "runbooks/notes.txt": "not markdown", "other/vpn.md": VPN})
        yield emu


@pytest.fixture
def world(db_url: str, tmp_path: Path, gh: GitHubEmulator, open_kb: Callable[..., KnowledgeBase]) -> Iterator[App]:
    from bot.bootstrap import bootstrap
    from bot.settings import Settings

    settings = Settings(data_dir=tmp_path, database_url=db_url, github_api_url=gh.base_url,  # type: ignore[call-arg]
                        github_token="ghp-test")
    app = bootstrap(settings, migrate=db_url.startswith("sqlite"),
                    knowledge=open_kb(data_dir=tmp_path / "kb", embedder=HashingEmbedding(dim=256)),
                    no_scheduler=True)
    yield app
    app.close()


def _org(app: App) -> str:
    return app.directory.create_org(unique("src")).id


def _sources(app: App, org: str, query: str) -> list[str]:
    return [h.source for h in app.knowledge.search(org, query, k=5)]


def test_github_source_syncs_changes_deletions_and_renames_by_blob_sha(world: App, gh: GitHubEmulator) -> None:
    org = _org(world)
    src = world.knowledge_sources.add(org, kind="github", location="acme/runbooks", path="runbooks", ref="main")
    first = sync_one(world, org, src.source_id)
    assert (first.added, first.updated, first.removed, first.renamed) == (2, 0, 0, 0)  # .md under runbooks/ only
    hits = world.knowledge.search(org, "duplicate pages on the on-call phone", k=3)
    assert hits[0].source == "pager.md" and hits[0].url == (
        f"{gh.base_url.removesuffix('/api/v3')}/acme/runbooks/blob/{first.commit}/runbooks/pager.md")
    assert "vpn.md" not in " ".join(_sources(world, org, "site-to-site tunnel drops"))
    assert sync_one(world, org, src.source_id).unchanged == 2  # nothing changed: nothing re-embedded
    head = gh.push("acme", "runbooks", "main", {
        "runbooks/pager.md": PAGER.replace("Silence it", "Page the secondary only after five minutes, then silence it"),
        "runbooks/mailer.md": None, "runbooks/queues/mailer-queue.md": QUEUE, "runbooks/new.md": VPN})
    second = sync_one(world, org, src.source_id)
    assert second.commit == head
    assert (second.added, second.updated, second.renamed, second.removed, second.unchanged) == (1, 1, 1, 0, 0)
    assert _sources(world, org, "outgoing mail waits in the queue")[0] == "queues/mailer-queue.md"
    assert "mailer.md" not in _sources(world, org, "outgoing mail waits in the queue")
    pager = [h for h in world.knowledge.search(org, "page the secondary after five minutes", k=5, per_document=0)
             if h.source.startswith("pager.md")]
    assert pager and any("secondary" in h.text for h in pager) and all(head in (h.url or "") for h in pager)
    assert world.knowledge_sources.get(org, src.source_id).last_commit == head  # type: ignore[union-attr]


def test_local_git_checkout_is_a_source_too(world: App, tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "pager.md").write_text(PAGER)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                              env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
                                   "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(tmp_path)}).stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    org = _org(world)
    src = world.knowledge_sources.add(org, kind="git", location=str(repo), path="docs", ref="main")
    assert sync_one(world, org, src.source_id).added == 1
    (repo / "docs" / "pager.md").rename(repo / "docs" / "paging.md")
    (repo / "docs" / "mailer.md").write_text(QUEUE)
    git("add", "-A")
    git("commit", "-q", "-m", "two")
    report = sync_one(world, org, src.source_id)
    assert (report.added, report.renamed, report.removed) == (1, 1, 0) and report.commit == git("rev-parse", "HEAD")
    assert _sources(world, org, "duplicate pages on the on-call phone")[0] == "paging.md"
    (repo / "docs" / "mailer.md").write_text("uncommitted edits are not synced")
    assert sync_one(world, org, src.source_id).unchanged == 2


def test_a_failing_sync_is_recorded_and_the_indexed_commit_kept(world: App, gh: GitHubEmulator) -> None:
    org = _org(world)
    src = world.knowledge_sources.add(org, kind="github", location="acme/missing", ref="main")
    with pytest.raises(SourceError, match="acme/missing"):
        sync_one(world, org, src.source_id)
    stored = world.knowledge_sources.get(org, src.source_id)
    assert stored is not None and "acme/missing" in (stored.last_error or "") and stored.last_commit is None


def test_sources_stay_inside_their_org(world: App) -> None:
    a, b = _org(world), _org(world)
    src = world.knowledge_sources.add(a, kind="github", location="acme/runbooks", path="runbooks")
    sync_one(world, a, src.source_id)
    assert world.knowledge_sources.list_sources(b) == [] and world.knowledge_sources.get(b, src.source_id) is None
    assert not world.knowledge_sources.remove(b, src.source_id)
    with pytest.raises(SourceError, match="no source"):
        sync_one(world, b, src.source_id)
    assert world.knowledge.search(b, "duplicate pages on the on-call phone") == []
    assert world.knowledge_sources.orgs_with_sources().count(a) == 1


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def base_url(world: App) -> AsyncIterator[str]:
    runner = web.AppRunner(build_web_app(world))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_a_signed_push_webhook_syncs_and_the_next_search_finds_the_change(
        world: App, gh: GitHubEmulator, base_url: str) -> None:
    org = _org(world)
    src: KnowledgeSource = world.knowledge_sources.add(org, kind="github", location="acme/runbooks",
                                                       path="runbooks")
    sync_one(world, org, src.source_id)
    head = gh.push("acme", "runbooks", "main", {"runbooks/pager.md": PAGER + "\n2. Rotate the quokka token.\n"})
    body = json.dumps({"ref": "refs/heads/main", "after": head, "repository": {"full_name": "acme/runbooks"}}).encode()
    url = f"{base_url}/hooks/github?org={org}&source={src.source_id}"
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    async with aiohttp.ClientSession() as s:
        for bad in ("", "sha256=" + "0" * 64, _sign("not-the-secret", body), _sign(src.secret, body + b" ")):
            async with s.post(url, data=body, headers={**headers, "X-Hub-Signature-256": bad}) as r:
                assert r.status == 401 and "X-Hub-Signature-256" in (await r.json())["error"]
        other = _org(world)  # the right secret under another org's id is still refused
        async with s.post(f"{base_url}/hooks/github?org={other}&source={src.source_id}", data=body,
                          headers={**headers, "X-Hub-Signature-256": _sign(src.secret, body)}) as r:
            assert r.status == 401
        assert "quokka" not in " ".join(h.text for h in world.knowledge.search(org, "rotate the quokka token"))
        async with s.post(url, data=body, headers={**headers, "X-Hub-Signature-256": _sign(src.secret, body)}) as r:
            assert r.status == 202 and (await r.json()) == {"sync": "scheduled", "source": src.source_id}
        deadline = time.monotonic() + 20
        while world.knowledge_sources.get(org, src.source_id).last_commit != head:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the pushed commit was never synced"
            time.sleep(0.05)
        hits = world.knowledge.search(org, "rotate the quokka token", per_document=0)
        assert any("quokka" in h.text and head in (h.url or "") for h in hits)
        ping = json.dumps({"zen": "hi"}).encode()
        async with s.post(url, data=ping, headers={**headers, "X-GitHub-Event": "ping",
                                                    "X-Hub-Signature-256": _sign(src.secret, ping)}) as r:
            assert r.status == 200
        elsewhere = json.dumps({"ref": "refs/heads/feature"}).encode()
        async with s.post(url, data=elsewhere, headers={**headers, "X-Hub-Signature-256": _sign(src.secret, elsewhere)}) as r:
            assert r.status == 202 and "follows main" in (await r.json())["ignored"]


def test_cli_adds_lists_syncs_and_removes_sources(db_url: str, tmp_path: Path, gh: GitHubEmulator,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVENANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REVENANT_DATABASE_URL", db_url)
    monkeypatch.setenv("GITHUB_API_URL", gh.base_url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-test")
    app = make_app(db_url, tmp_path)
    org = app.directory.create_org(unique("cli")).id
    app.close()
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    added = json.loads(run("knowledge", "source", "add", "--org", org, "github", "acme/runbooks",
                           "--path", "runbooks/", "--json"))
    assert added["path"] == "runbooks" and added["secret"]
    assert "never synced" in run("knowledge", "source", "list", "--org", org)
    assert "2 added" in run("knowledge", "source", "sync", "--org", org)
    listed = json.loads(run("knowledge", "source", "list", "--org", org, "--json"))
    assert listed[0]["last_commit"] and listed[0]["id"] == added["id"]
    found = json.loads(run("knowledge", "search", "--org", org, "--json", "duplicate pages on the on-call phone"))
    assert found[0]["source"] == "pager.md" and "/blob/" in found[0]["url"]
    bad = runner.invoke(cli, ["knowledge", "source", "add", "--org", org, "github", "not a repo"])
    assert bad.exit_code != 0 and "OWNER/REPO" in bad.output
    assert "2 documents dropped" in run("knowledge", "source", "remove", "--org", org, added["id"])
    assert json.loads(run("knowledge", "search", "--org", org, "--json", "duplicate pages on the on-call phone")) == []
    gone = runner.invoke(cli, ["knowledge", "source", "sync", "--org", org, added["id"]])
    assert gone.exit_code != 0 and "no source" in gone.output


def test_suggestions_from_a_synced_source_cite_the_file_at_its_commit(world: App) -> None:
    from knowledge.guidance import RetrievalGuidance
    from tests.knowledge.test_guidance import Incident

    org = _org(world)
    src = world.knowledge_sources.add(org, kind="github", location="acme/runbooks", path="runbooks")
    commit = sync_one(world, org, src.source_id).commit
    guidance = RetrievalGuidance(world.knowledge).guide(
        Incident("Pager storms: duplicate pages every minute", org=org).request())
    assert guidance.suggestions and all(
        s.source_url.endswith(f"/blob/{commit}/runbooks/{s.source}") for s in guidance.suggestions)


def test_one_sync_at_a_time_per_source(world: App) -> None:
    org = _org(world)
    src = world.knowledge_sources.add(org, kind="github", location="acme/runbooks", path="runbooks")
    with world.knowledge_sources.try_lock(org, src.source_id) as held:
        assert held
        assert sync_one(world, org, src.source_id).skipped  # another thread holds the source
    if world.engine.dialect.name == "postgresql":  # another process: its own store, the same advisory lock
        from storage.knowledge_sources import SqlKnowledgeSources

        with SqlKnowledgeSources(world.engine).try_lock(org, src.source_id) as held:
            assert held and sync_one(world, org, src.source_id).skipped
    assert sync_one(world, org, src.source_id).added == 2
