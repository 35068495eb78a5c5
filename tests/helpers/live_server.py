"""A server the dashboard's tests talk to: ``create_app(Runtime.from_agents(...))`` on a real
uvicorn on a loopback port, in a background thread and event loop, that can be stopped and
started again on the same port (how the tests take the server away and bring it back)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn

from vel_runner import Agent
from vel_runner.clock import Clock, utc_now
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app
from vel_runner.storage.memory import MemoryStore

from .clock import FrozenClock
from .net import free_port
from .server import echo_agent, start_uvicorn

T = TypeVar("T")
#: The API key the dashboard tests' servers require.
API_KEY = "test-key-123"


class LiveServer:
    """``create_app(Runtime.from_agents(...))`` on a real uvicorn in its own thread and loop.

    The agents, their stores and sessions live in that loop and survive ``stop()`` /
    ``start()`` (same port), which is how the tests take the server away and bring it back.
    """

    def __init__(
        self, agents: list[Agent], *, api_key: str | None = None, clock: Clock = utc_now
    ) -> None:
        self.agents = {agent.id: agent for agent in agents}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runtime = Runtime.from_agents(agents, clock=clock)
        self.app = create_app(self.runtime, api_key=api_key, close_runtime=False)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        async def serve() -> None:
            self._server, self._task = await start_uvicorn(
                self.app, self.port, timeout_graceful_shutdown=1
            )

        self.call(serve())

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None and self._task is not None:
                self._server.should_exit = True
                await asyncio.wait_for(self._task, 10)
            self._server = self._task = None

        self.call(shutdown())

    def close(self) -> None:
        self.stop()
        self.call(self.runtime.close())
        for agent in self.agents.values():
            self.call(agent.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def turn(self, agent_id: str, session_id: str, message: str = "hello") -> str:
        """One real turn (``agent.run``) on the server's loop."""
        return self.call(self.agents[agent_id].run({"message": message}, session_id=session_id))

    def count(self, agent_id: str) -> int:
        return len(self.call(self.agents[agent_id].ctxmgr.alist_sessions()))


def make_server(
    sessions: dict[str, list[str]],
    *,
    api_key: str | None = None,
    clock: FrozenClock | None = None,
    ttl: float | None = None,
) -> LiveServer:
    """A started server with one echo agent per key of ``sessions`` and those sessions
    (two turns each, so four messages). With ``clock``, stores and runtime use it."""
    now = clock or utc_now
    agents = [
        echo_agent(agent_id, ttl=ttl, session_storage=MemoryStore(clock=now))
        for agent_id in sessions
    ]
    server = LiveServer(agents, api_key=api_key, clock=now)
    server.start()
    for agent_id, ids in sessions.items():
        for session_id in ids:
            server.turn(agent_id, session_id, f"hello from {session_id}")
            if clock is not None:
                clock.advance(60)
            server.turn(agent_id, session_id, "and again")
            if clock is not None:
                clock.advance(60)
    return server
