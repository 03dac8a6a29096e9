"""OpenAI emulator through the official openai client."""

from __future__ import annotations

import json
import math
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from pydantic import BaseModel, ValidationError

from emulators.openai_api import OpenAIEmulator
from emulators.openai_support import (
    malformed_json,
    rate_limited,
    refusal,
    schema_violation,
    server_error,
    tool_call,
)

MODEL = "gpt-4o-mini"


class Draft(BaseModel):
    summary: str
    impact: str
    action_items: list[str]


def client(emu: OpenAIEmulator, **kwargs: object) -> OpenAI:
    return OpenAI(base_url=emu.base_url + "/v1", api_key="sk-test", **kwargs)  # type: ignore[arg-type]


def ask(c: OpenAI, text: str = "Draft the postmortem") -> object:
    return c.chat.completions.parse(
        model=MODEL, messages=[{"role": "user", "content": text}], response_format=Draft
    )


def test_unscripted_chat_echoes_and_reports_usage(openai_emu: OpenAIEmulator) -> None:
    answer = client(openai_emu).chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}],
    )
    assert answer.object == "chat.completion" and answer.model == MODEL
    assert answer.choices[0].message.content == "Echo: hello"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens > 0
    assert openai_emu.chat_requests()[0]["messages"][1]["content"] == "hello"


def test_json_schema_structured_output_returns_the_scripted_content(openai_emu: OpenAIEmulator) -> None:
    openai_emu.script_chat(
        [{"summary": "DB failover", "impact": "5 min of 5xx", "action_items": ["add alert"]}]
    )
    parsed = ask(client(openai_emu)).choices[0].message.parsed  # type: ignore[attr-defined]
    assert parsed == Draft(summary="DB failover", impact="5 min of 5xx", action_items=["add alert"])
    sent = openai_emu.chat_requests()[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    default = ask(client(openai_emu)).choices[0].message.parsed  # type: ignore[attr-defined]
    assert default == Draft(
        summary="emulated summary", impact="emulated impact", action_items=["emulated action_items"]
    )


def test_malformed_and_schema_violating_outputs_fail_parsing(openai_emu: OpenAIEmulator) -> None:
    openai_emu.script_chat([malformed_json(), schema_violation({"summary": 1}), refusal("no")])
    c = client(openai_emu)
    with pytest.raises(ValidationError):
        ask(c)
    with pytest.raises(ValidationError):
        ask(c)
    message = ask(c).choices[0].message  # type: ignore[attr-defined]
    assert message.refusal == "no" and message.parsed is None


def test_scripts_can_be_scoped_by_schema_name_or_prompt_text(openai_emu: OpenAIEmulator) -> None:
    openai_emu.script_chat(["guidance"], when="next step")
    openai_emu.script_chat([{"summary": "s", "impact": "i", "action_items": []}], when="Draft")
    c = client(openai_emu)
    assert ask(c).choices[0].message.parsed.summary == "s"  # type: ignore[attr-defined]
    plain = c.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "suggest the next step"}]
    )
    assert plain.choices[0].message.content == "guidance"
    assert openai_emu.pending_replies() == 0


def test_rate_limit_then_success_is_retried_by_the_client(openai_emu: OpenAIEmulator) -> None:
    openai_emu.script_chat([rate_limited(retry_after=0.05), "after the 429"])
    answer = client(openai_emu).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}]
    )
    assert answer.choices[0].message.content == "after the 429"
    first = openai_emu.requests.filter("POST /v1/chat/completions")[0]
    assert first.status == 429
    openai_emu.script_chat([rate_limited(retry_after=1)])
    with pytest.raises(openai.RateLimitError) as info:
        client(openai_emu, max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.response.headers["retry-after"] == "1" and info.value.code == "rate_limit_exceeded"


def test_server_errors_and_injected_faults(openai_emu: OpenAIEmulator) -> None:
    openai_emu.script_chat([server_error(500)])
    with pytest.raises(openai.InternalServerError):
        client(openai_emu, max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )
    openai_emu.inject("POST /v1/chat/completions", status=503, retry_after=0)
    answer = client(openai_emu).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}]
    )
    assert answer.choices[0].message.content == "Echo: x"
    openai_emu.inject("POST /v1/chat/completions", delay=1.0)
    with pytest.raises(openai.APITimeoutError):
        client(openai_emu, max_retries=0, timeout=0.2).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}]
        )


def test_strict_schema_rules_and_auth_errors(openai_emu: OpenAIEmulator) -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "loose", "strict": True, "schema": loose}}
    with pytest.raises(openai.BadRequestError) as bad:
        client(openai_emu).chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            response_format=fmt,
        )
    assert "additionalProperties" in bad.value.message
    with OpenAIEmulator(api_keys={"sk-right"}) as strict:
        with pytest.raises(openai.AuthenticationError) as auth:
            OpenAI(base_url=strict.api_base, api_key="sk-wrong-key").models.list()
        assert auth.value.code == "invalid_api_key"


def test_tool_calls_and_streaming(openai_emu: OpenAIEmulator) -> None:
    openai_emu.script_chat([tool_call("run_playbook", {"action": "restart"}), "streamed answer text"])
    c = client(openai_emu)
    call = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "act"}])
    assert call.choices[0].finish_reason == "tool_calls"
    tool = (call.choices[0].message.tool_calls or [])[0]
    assert isinstance(tool, ChatCompletionMessageFunctionToolCall)
    assert tool.function.name == "run_playbook"
    assert json.loads(tool.function.arguments) == {"action": "restart"}
    stream = c.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == "streamed answer text"
    assert chunks[-1].usage is not None


def test_embeddings_are_deterministic_unit_vectors(openai_emu: OpenAIEmulator) -> None:
    c = client(openai_emu)
    texts = [
        "database connection pool exhausted",
        "connection pool exhausted on database",
        "TLS cert expired",
    ]
    first = [d.embedding for d in c.embeddings.create(model="text-embedding-3-small", input=texts).data]
    again = c.embeddings.create(model="text-embedding-3-small", input=texts[0], encoding_format="float").data[
        0
    ]
    assert len(first[0]) == 1536 and math.isclose(sum(v * v for v in first[0]), 1.0, rel_tol=1e-5)
    assert [round(v, 5) for v in again.embedding] == [round(v, 5) for v in first[0]]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(first[0], first[1]) > cosine(first[0], first[2])
    small = c.embeddings.create(model="text-embedding-3-large", input="x", dimensions=256).data[0]
    assert len(small.embedding) == 256


async def test_async_client(openai_emu: OpenAIEmulator) -> None:
    openai_emu.script_chat(["async reply"])
    c = AsyncOpenAI(base_url=openai_emu.api_base, api_key="sk-test")
    answer = await c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert answer.choices[0].message.content == "async reply"
    await c.close()
