"""The dashboard's API client against a real server; also the live-server helper the other
``test_tui_*`` files use (a real uvicorn on a loopback port, in a background event loop, that
can be stopped and started again on the same port)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import uvicorn

from vel_runner import Agent
from vel_runner.clock import Clock, utc_now
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app
from vel_runner.storage.memory import MemoryStore
from vel_runner.tui.api_types import ErrorResponse, ServerUnreachable, Unauthorized
from vel_runner.tui.client import CONNECTED, ApiClient

T = TypeVar("T")
API_KEY = "test-key-123"
FROZEN = datetime(2026, 11, 25, 6, 40, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FrozenClock:
    """A clock that only moves when told to (passed to the memory stores and the runtime)."""

    def __init__(self, start: datetime = FROZEN) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


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
            config = uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                timeout_graceful_shutdown=1,
            )
            self._server = uvicorn.Server(config)
            self._task = asyncio.create_task(self._server.serve())
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                    raise RuntimeError("uvicorn exited before it started")
                await asyncio.sleep(0.01)

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


def echo_agent(agent_id: str, **options: Any) -> Agent:
    return Agent(agent_id, model={"provider": "echo", "model": "echo-1"}, **options)


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


@pytest.fixture
def server() -> Iterator[LiveServer]:
    live = make_server({"alpha": ["a1", "a2"], "beta": ["b1"]}, api_key=API_KEY)
    yield live
    live.close()


async def _with_client(
    server: LiveServer, body: Callable[[ApiClient], Coroutine[Any, Any, T]], api_key: str = API_KEY
) -> T:
    client = ApiClient(server.url, api_key=api_key)
    try:
        return await body(client)
    finally:
        await client.aclose()


def run(server: LiveServer, body: Callable[[ApiClient], Coroutine[Any, Any, T]], **kw: Any) -> T:
    return asyncio.run(asyncio.wait_for(_with_client(server, body, **kw), 10))


def test_lists_agents_sessions_and_config(server: LiveServer) -> None:
    async def body(client: ApiClient) -> Any:
        return await client.agents(), await client.sessions(), await client.config()

    agents, sessions, config = run(server, body)
    assert [agent.id for agent in agents] == ["alpha", "beta"]
    assert agents[0].context_mode == "full"
    assert [(s.key, s.message_count) for s in sessions] == [
        ("alpha/a1", 4),
        ("alpha/a2", 4),
        ("beta/b1", 4),
    ]
    assert sessions[0].created_at is not None and sessions[0].created_at.tzinfo is not None
    assert config.version and config.last_reload_error is None


def test_session_detail_clear_and_cleanup(server: LiveServer) -> None:
    async def body(client: ApiClient) -> Any:
        detail = await client.session("alpha", "a1")
        would = await client.cleanup("0s", dry_run=True)
        cleared = await client.clear_session("alpha", "a1")
        again = await client.clear_session("alpha", "a1")
        deleted = await client.cleanup("0s", agent_id="beta")
        return detail, would, cleared, again, deleted, await client.sessions()

    detail, would, cleared, again, deleted, left = run(server, body)
    assert [m["role"] for m in detail.messages] == ["user", "assistant", "user", "assistant"]
    assert detail.messages[0]["content"] == "hello from a1"
    assert (would, cleared, again, deleted) == (3, True, False, 1)
    assert [s.key for s in left] == ["alpha/a2"]


def test_missing_session_is_a_404_api_error(server: LiveServer) -> None:
    with pytest.raises(ErrorResponse) as caught:
        run(server, lambda client: client.session("alpha", "nope"))
    assert caught.value.status == 404


def test_wrong_api_key_is_unauthorized_and_never_echoed(server: LiveServer) -> None:
    with pytest.raises(Unauthorized) as caught:
        run(server, lambda client: client.sessions(), api_key="wrong-secret-key")
    assert "--api-key" in str(caught.value)
    assert "wrong-secret-key" not in str(caught.value)


def test_unreachable_server_is_a_clear_error() -> None:
    async def body() -> None:
        client = ApiClient(f"http://127.0.0.1:{free_port()}", api_key="secret-xyz")
        try:
            await client.agents()
        finally:
            await client.aclose()

    with pytest.raises(ServerUnreachable) as caught:
        asyncio.run(body())
    assert "cannot reach http://127.0.0.1:" in str(caught.value)
    assert "secret-xyz" not in str(caught.value)


def test_event_stream_reports_turns(server: LiveServer) -> None:
    async def body(client: ApiClient) -> list[Any]:
        seen: list[Any] = []
        async for event in client.events():
            seen.append(event)
            if event.kind in {CONNECTED, "created"}:
                await asyncio.to_thread(server.turn, "beta", "b2")
            elif event.kind == "updated":
                return seen
        return seen

    seen = asyncio.run(asyncio.wait_for(_with_client(server, body), 10))
    assert [event.kind for event in seen] == [CONNECTED, "created", "updated"]
    assert seen[-1].session_key == "beta/b2" and seen[-1].data["message_count"] == 4
