"""Helpers for the server tests: a real uvicorn on a free loopback port, echo agents, SSE."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from vel_runner import Agent
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def echo_agent(agent_id: str = "echo", **options: Any) -> Agent:
    return Agent(agent_id, model={"provider": "echo", "model": "echo-1"}, **options)


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Run ``app`` on a real uvicorn (in this event loop); yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@asynccontextmanager
async def served_agents(*agents: Agent, **app_options: Any) -> AsyncIterator[str]:
    """Serve ``agents`` (a runtime over them) on a real uvicorn; yield its base URL."""
    app = create_app(Runtime.from_agents(agents), **app_options)
    async with serving(app) as base_url:
        yield base_url


def parse_sse(text: str) -> list[dict[str, Any]]:
    """SSE frames as ``{"event": name|None, "data": str}``; comments are skipped."""
    frames = []
    for block in text.split("\n\n"):
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        if data:
            frames.append({"event": event, "data": "\n".join(data)})
    return frames


def sse_json(text: str) -> list[Any]:
    """The JSON payloads of an SSE body, without the final ``[DONE]``."""
    return [json.loads(f["data"]) for f in parse_sse(text) if f["data"] != "[DONE]"]
