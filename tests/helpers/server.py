"""Helpers for the server tests: a real uvicorn on a free loopback port, ``vel-runner serve``
in a subprocess, echo agents, SSE."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn

from vel_runner import Agent
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

from .net import free_port
from .paths import REPO_ROOT
from .waiting import wait_until


def echo_agent(agent_id: str = "echo", **options: Any) -> Agent:
    return Agent(agent_id, model={"provider": "echo", "model": "echo-1"}, **options)


def upstream_agent(
    agent_id: str,
    base_url: str,
    model: str = "fake-model",
    *,
    instructions: str | None = None,
    **model_options: Any,
) -> Agent:
    """An openai-provider agent on the fake upstream (``status-500`` as ``model``: it fails)."""
    return Agent(
        agent_id,
        model={
            "provider": "openai",
            "model": model,
            "api_key": "sk-upstream",
            "base_url": base_url,
            **model_options,
        },
        instructions=instructions,
    )


async def stored_messages(base: str, agent: str, session_id: str) -> list[dict[str, Any]]:
    """The session's stored messages, read over HTTP (``[]`` when it does not exist)."""
    async with httpx.AsyncClient(base_url=base) as http:
        response = await http.get(f"/v1/agents/{agent}/sessions/{session_id}")
    return response.json()["messages"] if response.status_code == 200 else []


async def start_uvicorn(
    app: Any, port: int, **options: Any
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """``app`` on a real uvicorn on ``port`` (in this event loop), once it accepts connections."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), what="uvicorn to start")
    if not server.started:
        task.result()
        raise RuntimeError("uvicorn exited before it started")
    return server, task


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Run ``app`` on a real uvicorn (in this event loop); yield its base URL."""
    port = free_port()
    server, task = await start_uvicorn(app, port)
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


async def read_events(
    http: httpx.AsyncClient,
    frames: list[dict[str, Any]],
    enough: Any,
    path: str = "/v1/events",
    connected: asyncio.Event | None = None,
) -> None:
    """Append the frames of the SSE stream at ``path`` to ``frames`` until ``enough(frames)``.

    ``connected`` is set on the first bytes (``/v1/events`` sends ``: connected`` once it is
    subscribed), so a test can wait for it instead of sleeping.
    """
    async with http.stream("GET", path) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        async for chunk in response.aiter_text():
            if connected is not None:
                connected.set()
            buffer += chunk
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                frames.extend(parse_sse(block + "\n\n"))
            if enough(frames):
                return


class SseReader:
    """An SSE response read in the background (``task``), frame by frame into ``frames``."""

    def __init__(self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> None:
        self.frames: list[str] = []
        self.status: int | None = None
        self.task = asyncio.create_task(self._read(http, method, url, kwargs))

    async def _read(self, http: httpx.AsyncClient, method: str, url: str, kwargs: Any) -> None:
        async with http.stream(method, url, **kwargs) as response:
            self.status = response.status_code
            buffer = ""
            async for text in response.aiter_text():
                buffer += text
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    self.frames.append(frame + "\n\n")

    def deltas(self) -> int:
        """How many ``text-delta`` frames came so far."""
        return sum('"text-delta"' in frame for frame in self.frames)

    def events(self) -> list[dict[str, Any]]:
        return sse_json("".join(self.frames))

    def text(self) -> str:
        """The answer's text so far."""
        return "".join(e.get("delta", "") for e in self.events() if e["type"] == "text-delta")


def sse_json(text: str) -> list[Any]:
    """The JSON payloads of an SSE body, without the final ``[DONE]``."""
    return [json.loads(f["data"]) for f in parse_sse(text) if f["data"] != "[DONE]"]


#: One echo agent whose sessions live in PostgreSQL at ``$POSTGRES_DSN``.
DATABASE_CONFIG = """\
version: 1
providers:
  offline: {type: echo}
stores:
  pg: {type: database, dsn: "${POSTGRES_DSN}"}
agents:
  - id: echo
    model: {provider: offline, model: echo-1}
    store: pg
"""


class ServerProcess:
    """``vel-runner serve`` in a subprocess on a free loopback port."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "vel_runner.cli", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, *args],
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    async def ready(self, timeout: float = 20.0) -> None:
        """Wait until ``/readyz`` answers 200 (fail with the server's output if it exits)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            while loop.time() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.output()}")
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.output()}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except Exception:
                self.process.kill()
                self.process.wait(5)

    def output(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stdout.read() if self.process.stdout else ""
