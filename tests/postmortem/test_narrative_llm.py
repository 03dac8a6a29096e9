"""The optional LLM narrative against the OpenAI emulator: good, malformed, fact-adding and failing replies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import OpenAI

from emulators.openai_api import OpenAIEmulator
from emulators.openai_support import malformed_json, refusal, server_error
from incident_core.postmortem_draft import Draft, build_draft
from knowledge.postmortem_llm import NARRATIVE_SECTIONS, OpenAINarrator
from tests.postmortem.scenario import resolved_incident


@pytest.fixture
def emu() -> Iterator[OpenAIEmulator]:
    with OpenAIEmulator(api_keys={"sk-test"}) as e:
        yield e


def setup(emu: OpenAIEmulator) -> tuple[OpenAINarrator, Draft, set[int]]:
    m = resolved_incident()
    assert m.state is not None
    draft = build_draft(m.state, m.events, now=m.now())
    client = OpenAI(base_url=emu.api_base, api_key="sk-test", max_retries=0, timeout=5)
    return OpenAINarrator(client, "gpt-4o-mini"), draft, {e.version for e in m.events}


def reply_with(draft: Draft, **changes: str) -> dict[str, str]:
    return {key: changes.get(key, draft.sections[key]) for key in NARRATIVE_SECTIONS}


def test_a_good_rephrasing_is_kept_and_the_request_is_strict_structured_output(emu: OpenAIEmulator) -> None:
    narrator, draft, known = setup(emu)
    summary = ("INC-7 “Checkout latency spike” hit checkout and payments-db as a SEV2 incident. [ev 1, 2, 7, 11]\n"
               "Responders declared it at 09:52 UTC and resolved it 46m later. [ev 1, 15]")
    emu.script_chat([reply_with(draft, summary=summary)], when="postmortem_narrative")
    out = narrator.narrate(draft, known_versions=known)
    assert out.source == "llm" and out.sections["summary"] == summary
    assert out.sections["impact"] == draft.sections["impact"]  # not offered to the model
    body = emu.chat_requests()[-1]
    schema = body["response_format"]["json_schema"]
    assert schema["strict"] is True and schema["schema"]["additionalProperties"] is False
    assert "[ev" in body["messages"][1]["content"]


def test_added_facts_and_unknown_citations_fall_back_per_section(emu: OpenAIEmulator) -> None:
    narrator, draft, known = setup(emu)
    good = "Detection was automatic: the first signal led to a declaration 6m later. [ev 1, 2]"
    emu.script_chat([reply_with(
        draft, detection=good,
        summary="INC-7 cost 12,000 orders in the EU region. [ev 1]",
        response="- Commander: UALICE, helped by Redis engineers [ev 5]",
        lucky="- The database recovered by itself [ev 44]")], when="postmortem_narrative")
    out = narrator.narrate(draft, known_versions=known)
    assert out.sections["detection"] == good and out.source == "llm"
    for kept in ("summary", "response", "lucky"):
        assert out.sections[kept] == draft.sections[kept]
    assert "summary: adds" in out.notes and "Redis" in out.notes and "[44]" in out.notes


@pytest.mark.parametrize("answer", [malformed_json(), malformed_json(truncated=True), refusal(), server_error(500),
                                    {"summary": "only one key"}])
def test_malformed_refused_or_failed_replies_keep_the_deterministic_draft(emu: OpenAIEmulator, answer: object) -> None:
    narrator, draft, known = setup(emu)
    emu.script_chat([answer], when="postmortem_narrative")
    out = narrator.narrate(draft, known_versions=known)
    assert out.sections == draft.sections and out.source == "deterministic"
    assert out.notes.startswith("narrative not used")
