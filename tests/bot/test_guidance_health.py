"""A guidance failure is visible in /metrics and on /readyz whichever way guidance was asked for: the outbox's
offer (tests/bot/test_server.py) or `/revenant suggest`, here against a real Chroma client whose server is gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from bot.guidance_wiring import suggest_extra
from incident_core import usecases as uc
from incident_core.chat_commands import Intent
from incident_core.chat_service import ChatContext
from incident_core.model import Severity
from knowledge.embeddings import make_embedder
from knowledge.kb import KnowledgeBase
from tests.bot.processes import free_port
from tests.conftest import make_app


def test_a_failing_suggest_is_counted_in_metrics_and_makes_readiness_fail(
        open_kb: Callable[..., KnowledgeBase], tmp_path: Path) -> None:
    gone = open_kb(data_dir=tmp_path / "kb", chroma_url=f"http://127.0.0.1:{free_port()}",
                         embedder=make_embedder("hashing"))  # nothing listens there
    app = make_app(f"sqlite:///{tmp_path / 'revenant.db'}", tmp_path, knowledge=gone)
    try:
        org = app.directory.create_org(f"health-{tmp_path.name[-8:]}").id
        incident = uc.declare_incident(deps=app.deps, org_id=org, actor="u:a", title="Checkout 5xx",
                                       severity=Severity.SEV2, check_role=False).state.incident_id
        suggest = suggest_extra(app)["suggest"]
        with pytest.raises(Exception) as failure:  # the chat error handler shows it to the person who asked
            suggest(Intent(name="suggest"), ChatContext(org_id=org, platform="slack", user="U1", incident_id=incident))
        metrics = generate_latest(app.registry).decode()
        assert f'revenant_guidance_failures_total{{error="{type(failure.value).__name__}"}} 1.0' in metrics
        assert "revenant_guidance_failing 1.0" in metrics
        ready, detail = app.knowledge_health.status()
        assert not ready and detail["guidance"] == "failing" and detail["last_error"]
    finally:
        app.close()
