"""Builds the guidance source and the playbook executor from settings (no App: bootstrap calls these)."""

from __future__ import annotations

from typing import Any

from bot.settings import Settings
from incident_core.guidance import GuidanceSource
from incident_core.ports import Clock


def build_guidance(settings: Settings, knowledge: Any) -> GuidanceSource:
    """Retrieval over the knowledge base; with OPENAI_API_KEY a model ranks and phrases (grounded, raise-only)."""
    from knowledge.guidance import RetrievalGuidance

    base = RetrievalGuidance(knowledge)
    key = settings.openai_api_key
    if key is None:
        return base
    from openai import OpenAI

    from knowledge.guidance_llm import ModelGuidance

    client = OpenAI(api_key=key.get_secret_value(), base_url=settings.openai_base_url, timeout=20.0, max_retries=1)
    return ModelGuidance(base, client, settings.llm_model)


def build_executor(clock: Clock, delay_seconds: float) -> Any:
    """The playbook executor: the simulator, taking `delay_seconds` per action."""
    from publishers.simulator import SimulatedExecutor

    return SimulatedExecutor(delay_seconds=delay_seconds, clock=clock)
