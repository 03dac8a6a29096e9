"""OpenAIEmulator: chat completions (incl. json_schema structured outputs), embeddings and models."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from emulators.faults import Fault
from emulators.openai_support import (
    MODEL_DIMENSIONS,
    ChatReply,
    Matcher,
    ScriptQueue,
    as_reply,
    count_tokens,
    embed,
    example_for,
    make_matcher,
    request_text,
    strict_schema_errors,
)
from emulators.server import EmulatorServer, body_of, json_response

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "text-embedding-3-small", "text-embedding-3-large")


def _error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    kind: str = "invalid_request_error",
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return json_response(body, status=status, headers={"x-request-id": f"req_{uuid.uuid4().hex}"})


class OpenAIEmulator(EmulatorServer):
    """OpenAI-compatible API: `OpenAI(base_url=emu.base_url + "/v1", api_key="sk-test")`."""

    name = "openai"

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(host=host, port=port, clock=clock)
        self.api_keys = set(api_keys) if api_keys is not None else None
        self._scripts: list[ScriptQueue] = []

    @property
    def api_base(self) -> str:
        """The base URL for OpenAI clients and OPENAI_BASE_URL (ends with /v1)."""
        return self.base_url + "/v1"

    # ----- scripting -----
    def script_chat(
        self,
        replies: Iterable[ChatReply | str | dict[str, Any] | list[Any]],
        *,
        when: str | Matcher | None = None,
    ) -> None:
        """Queue chat replies; `when` (schema name, text in the messages, or a predicate) scopes the queue."""
        with self.lock:
            self._scripts.append(ScriptQueue(make_matcher(when), deque(as_reply(r) for r in replies)))

    def pending_replies(self) -> int:
        """Scripted replies not served yet."""
        with self.lock:
            return sum(len(q.replies) for q in self._scripts)

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies of every chat completion request, oldest first."""
        return [r.body for r in self.requests.filter("POST /v1/chat/completions") if isinstance(r.body, dict)]

    def _next_reply(self, body: dict[str, Any]) -> ChatReply | None:
        with self.lock:
            for queue in self._scripts:
                if queue.replies and (queue.matcher is None or queue.matcher(body)):
                    return queue.replies.popleft()
        return None

    # ----- wiring -----
    def setup_routes(self, app: web.Application) -> None:
        """The /v1 routes."""
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)

    def operation_name(self, request: web.Request) -> str:
        """ "METHOD /v1/..." form."""
        return f"{request.method} {request.path}"

    def fault_body(self, status: int, request: web.Request) -> Any:
        """OpenAI's error envelope for injected faults."""
        if status == 429:
            message = "Rate limit reached for requests per min (RPM). Please try again later."
            return {
                "error": {
                    "message": message,
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
        message = "The server had an error while processing your request. Sorry about that!"
        return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}

    def fault_headers(self, fault: Fault) -> dict[str, str]:
        """Adds retry-after-ms, which the openai client prefers over Retry-After."""
        headers = super().fault_headers(fault)
        if "Retry-After" in headers:
            seconds = 1.0 if fault.retry_after is None else fault.retry_after
            headers["retry-after-ms"] = str(int(seconds * 1000))
        return headers

    def route_not_found(self, request: web.Request) -> web.StreamResponse:
        """OpenAI's 404 for unknown URLs."""
        return _error(404, f"Invalid URL ({request.method} {request.path})")

    def _auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        key = header[7:].strip()
        if self.api_keys is not None and key not in self.api_keys:
            shown = key[:3] + "*" * 8 + key[-4:] if len(key) > 8 else "*" * len(key)
            return _error(401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")
        return None

    # ----- chat -----
    def _validate_chat(self, body: Any) -> web.Response | None:
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        if not body.get("model"):
            return _error(400, "you must provide a model parameter")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "[] is too short - 'messages'", param="messages", code="empty_array")
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            spec = fmt.get("json_schema") or {}
            name = spec.get("name")
            if not name:
                return _error(
                    400,
                    "Missing required parameter: 'response_format.json_schema.name'.",
                    param="response_format.json_schema.name",
                    code="missing_required_parameter",
                )
            if spec.get("strict"):
                problems = strict_schema_errors(spec.get("schema"))
                if problems:
                    return _error(
                        400,
                        f"Invalid schema for response_format '{name}': {problems[0]}",
                        param="response_format",
                    )
        if (
            isinstance(fmt, dict)
            and fmt.get("type") == "json_object"
            and "json" not in request_text(body).lower()
        ):
            return _error(
                400,
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                param="messages",
            )
        return None

    def _default_reply(self, body: dict[str, Any]) -> ChatReply:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            return ChatReply(content=json.dumps(example_for(schema)))
        users = [m for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        last = users[-1].get("content") if users else ""
        text = last if isinstance(last, str) else request_text({"messages": [users[-1]]}) if users else ""
        if fmt.get("type") == "json_object":
            return ChatReply(content=json.dumps({"echo": text[:200]}))
        return ChatReply(content=f"Echo: {text[:200]}")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        denied = self._auth(request)
        if denied:
            return denied
        body = body_of(request)
        invalid = self._validate_chat(body)
        if invalid:
            return invalid
        scripted = self._next_reply(body)
        answer = scripted or self._default_reply(body)
        if answer.delay > 0:
            await asyncio.sleep(answer.delay)
        if answer.status != 200:
            headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
            if answer.retry_after is not None:
                headers["Retry-After"] = str(max(0, math.ceil(answer.retry_after)))
                headers["retry-after-ms"] = str(int(answer.retry_after * 1000))
            error = answer.error or {"message": "error", "type": "server_error", "param": None, "code": None}
            return json_response({"error": error}, status=answer.status, headers=headers)
        completion = self._completion(body, answer)
        if body.get("stream"):
            return await self._stream(request, body, completion)
        return json_response(completion, headers={"x-request-id": f"req_{uuid.uuid4().hex}"})

    def _completion(self, body: dict[str, Any], answer: ChatReply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": answer.content,
            "refusal": answer.refusal,
            "annotations": [],
        }
        if answer.tool_calls:
            message["tool_calls"] = answer.tool_calls
        choices = [
            {"index": i, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}
            for i in range(max(1, int(body.get("n") or 1)))
        ]
        prompt = count_tokens(request_text(body))
        completion = count_tokens(answer.content or answer.refusal or json.dumps(answer.tool_calls or ""))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(self.clock()),
            "model": body["model"],
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_emulator",
        }

    async def _stream(
        self, request: web.Request, body: dict[str, Any], completion: dict[str, Any]
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        message = completion["choices"][0]["message"]
        base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")} | {
            "object": "chat.completion.chunk"
        }

        async def send(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            chunk = (
                base
                | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
                | extra
            )
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": "", "refusal": None})
        text = message.get("content") or ""
        for start in range(0, len(text), 16):
            await send({"content": text[start : start + 16]})
        if message.get("tool_calls"):
            calls = [dict(c, index=i) for i, c in enumerate(message["tool_calls"])]
            await send({"tool_calls": calls})
        await send({}, completion["choices"][0]["finish_reason"])
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk = base | {"choices": [], "usage": completion["usage"]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    # ----- embeddings and models -----
    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        denied = self._auth(request)
        if denied:
            return denied
        body = body_of(request)
        if not isinstance(body, dict) or not body.get("model"):
            return _error(400, "you must provide a model parameter")
        model = str(body["model"])
        raw = body.get("input")
        if raw is None or raw == [] or raw == "":
            return _error(
                400,
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param="input",
            )
        inputs = (
            [raw]
            if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int))
            else list(raw)
        )
        texts = [x if isinstance(x, str) else " ".join(f"t{t}" for t in x) for x in inputs]
        dims = MODEL_DIMENSIONS.get(model, 1536)
        if body.get("dimensions") is not None:
            if model == "text-embedding-ada-002":
                return _error(400, "This model does not support specifying dimensions.", param="dimensions")
            dims = int(body["dimensions"])
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = embed(text, dims)
            value: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if as_base64 else vec
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(count_tokens(t) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return json_response({"object": "list", "data": data, "model": model, "usage": usage})

    def _model_json(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "system"}

    async def _models(self, request: web.Request) -> web.StreamResponse:
        denied = self._auth(request)
        return denied or json_response({"object": "list", "data": [self._model_json(m) for m in MODELS]})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        denied = self._auth(request)
        if denied:
            return denied
        model = request.match_info["model"]
        if model not in MODELS:
            return _error(
                404,
                f"The model '{model}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return json_response(self._model_json(model))
