"""A small OpenAI-compatible chat completions server for tests and benchmarks.

It runs on a real uvicorn on a free loopback port in a background thread, so the official
``openai`` SDK talks to it over HTTP exactly as it would to OpenAI or vLLM.

Behaviour is chosen by the request's ``model``:
- any name: replies ``fake reply to: <last user message> (N messages)``;
- ``status-<code>``: answers that HTTP status with an OpenAI-style error body;
- ``slow-<seconds>``: waits that long before answering;
- ``bad-key``: answers 401 quoting the API key it was sent, as OpenAI does;
- ``truncate-<n>``: ends the reply cleanly after ``n`` words: a stream without a finish reason
  or ``[DONE]``, a plain answer cut in the middle of its JSON.

Tool calls (as the echo provider does offline): when the request offers ``tools`` (and
``tool_choice`` is not ``"none"``), each line ``/tool NAME {json}`` of the last user message
becomes a call; given tool results, it replies ``fake results: NAME -> result; ...``. A model
name containing ``always-tool`` calls the first offered tool at every step. Streamed
arguments come in three pieces, OpenAI style (``index`` on every delta, ``id`` and name on the
first); a model name containing ``noindex`` streams Ollama style (no ``index``, the whole call
in one delta), ``noid`` leaves out every ``id``.
``latency`` (seconds) delays every answer (and each streamed chunk is sent immediately after).

Scripted answers: ``fake.script("judge-1", "first", "second")`` makes model ``judge-1``
answer those texts in order (the last one again once they run out), for a judge or any
model whose words a test must choose; a reply ``{"tool_calls": [{"name": ..., "arguments":
"{json}"}]}`` is a step that calls tools instead.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .net import free_port


def _tool_calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The calls the fake model makes for this request (see the module docstring)."""
    messages = body.get("messages") or []
    tools = body.get("tools") or []
    if not tools or body.get("tool_choice") == "none" or not messages:
        return []
    last = messages[-1]
    lines: list[tuple[str, str]] = []
    if "always-tool" in str(body.get("model")):
        lines.append((tools[0]["function"]["name"], "{}"))
    elif last.get("role") == "user" and isinstance(last.get("content"), str):
        for line in last["content"].splitlines():
            if line.startswith("/tool "):
                name, _, arguments = line.removeprefix("/tool ").strip().partition(" ")
                lines.append((name, arguments.strip() or "{}"))
    return [
        {
            "id": f"call_{len(messages)}_{n}",
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        for n, (name, arguments) in enumerate(lines)
    ]


def _reply_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "tool":
        results = []
        for message in reversed(messages):
            if message.get("role") != "tool":
                break
            results.insert(0, message)
        calls = {
            c["id"]: c["function"]["name"] for m in messages for c in (m.get("tool_calls") or ())
        }
        said = "; ".join(f"{calls.get(r['tool_call_id'], '?')} -> {r['content']}" for r in results)
        return f"fake results: {said}"
    last_user = next(
        (m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), ""
    )
    return f"fake reply to: {last_user} ({len(messages)} messages)"


class FakeOpenAI:
    """``with FakeOpenAI(latency=0.05) as fake: AsyncOpenAI(base_url=fake.base_url, ...)``."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        # the latest request bodies, for assertions; bounded, so a long benchmark run does
        # not grow the server's heap (and its garbage collections) turn after turn
        self.requests: deque[dict[str, Any]] = deque(maxlen=100)
        self.scripts: dict[str, deque[str | dict[str, Any]]] = {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def script(self, model: str, *replies: str | dict[str, Any]) -> None:
        """Model ``model`` answers ``replies`` in order, then the last one again."""
        self.scripts[model] = deque(replies)

    def _scripted(self, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
        """The next scripted (text, tool calls) of the request's model, if it has a script."""
        replies = self.scripts.get(str(body.get("model", "")))
        if not replies:
            return None
        reply = replies.popleft() if len(replies) > 1 else replies[0]
        if isinstance(reply, str):
            return reply, []
        count = len(body.get("messages") or [])
        calls = [
            {"id": f"call_{count}_{n}", "type": "function", "function": dict(call)}
            for n, call in enumerate(reply["tool_calls"])
        ]
        return "", calls

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        model = str(body.get("model", ""))
        if self.latency:
            await asyncio.sleep(self.latency)
        if model.startswith("slow-"):
            await asyncio.sleep(float(model.removeprefix("slow-")))
        if model == "bad-key":
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}. Find your key in your account."
            error = {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
            return JSONResponse({"error": error}, status_code=401)
        if model.startswith("status-"):
            status = int(model.removeprefix("status-"))
            error = {"message": f"fake failure {status}", "type": "fake_error", "code": status}
            return JSONResponse({"error": error}, status_code=status)
        scripted = self._scripted(body)
        if scripted is not None:
            text, calls = scripted
        else:
            calls = _tool_calls(body)
            text = "" if calls else _reply_text(body)
        finish_reason = "tool_calls" if calls else "stop"
        usage = {
            "prompt_tokens": len(body.get("messages") or []),
            "completion_tokens": len(text.split()),
            "total_tokens": len(body.get("messages") or []) + len(text.split()),
        }
        created = int(time.time())
        cut = int(model.removeprefix("truncate-")) if model.startswith("truncate-") else None
        if not body.get("stream"):
            reply = JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": text or None,
                                **({"tool_calls": calls} if calls else {}),
                            },
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                }
            )
            if cut is not None:
                return Response(reply.body[: len(reply.body) // 2], media_type="application/json")
            return reply

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n"

        async def frames() -> Any:
            yield chunk({"role": "assistant", "content": ""})
            for delta in _tool_deltas(calls, model):
                yield chunk({"tool_calls": [delta]})
            if text:
                for index, word in enumerate(text.split(" ")[:cut]):
                    yield chunk({"content": word if index == 0 else " " + word})
            if cut is not None:
                return  # the body ends cleanly, with no finish reason and no [DONE]
            yield chunk({}, finish_reason)
            if (body.get("stream_options") or {}).get("include_usage"):
                tail = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
                yield f"data: {json.dumps(tail)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(frames(), media_type="text/event-stream")


def _tool_deltas(calls: list[dict[str, Any]], model: str) -> list[dict[str, Any]]:
    """Streamed tool-call deltas, in the style ``model`` asks for."""
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        call_id = None if "noid" in model else call["id"]
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        if "noindex" in model:  # Ollama: the whole call in one delta, no index
            whole = {"type": "function", "function": {"name": name, "arguments": arguments}}
            deltas.append({**({"id": call_id} if call_id else {}), **whole})
            continue
        first = {"index": index, "type": "function", "function": {"name": name, "arguments": ""}}
        deltas.append({**({"id": call_id} if call_id else {}), **first})
        third = max(1, len(arguments) // 3)
        for start in range(0, len(arguments), third):
            piece = arguments[start : start + third]
            deltas.append({"index": index, "function": {"arguments": piece}})
    return deltas
