"""A small OpenAI-compatible chat completions server for tests and benchmarks.

It runs on a real uvicorn on a free loopback port in a background thread, so the official
``openai`` SDK talks to it over HTTP exactly as it would to OpenAI or vLLM.

Behaviour is chosen by the request's ``model``:
- any name: replies ``fake reply to: <last user message> (N messages)``;
- ``status-<code>``: answers that HTTP status with an OpenAI-style error body;
- ``slow-<seconds>``: waits that long before answering.
``latency`` (seconds) delays every answer (and each streamed chunk is sent immediately after).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reply_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
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
        if model.startswith("status-"):
            status = int(model.removeprefix("status-"))
            error = {"message": f"fake failure {status}", "type": "fake_error", "code": status}
            return JSONResponse({"error": error}, status_code=status)
        text = _reply_text(body)
        usage = {
            "prompt_tokens": len(body.get("messages") or []),
            "completion_tokens": len(text.split()),
            "total_tokens": len(body.get("messages") or []) + len(text.split()),
        }
        created = int(time.time())
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )

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
            for index, word in enumerate(text.split(" ")):
                yield chunk({"content": word if index == 0 else " " + word})
            yield chunk({}, "stop")
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
