"""The dashboard's API client against a real server (helpers.live_server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from helpers.live_server import API_KEY, LiveServer, make_server
from helpers.net import free_port

from vel_runner.tui.api_types import ErrorResponse, ServerUnreachable, Unauthorized
from vel_runner.tui.client import CONNECTED, ApiClient

T = TypeVar("T")


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
    assert [event.kind for event in seen[:2]] == [CONNECTED, "recent-turns"]
    history = seen[1].data["turns"]  # the fixture's turns, before the stream opened
    assert history and {turn["kind"] for turn in history} == {"turn-finished"}
    sessions = [event for event in seen[2:] if not event.kind.startswith("turn-")]
    assert [event.kind for event in sessions] == ["created", "updated"]
    assert seen[-1].session_key == "beta/b2" and seen[-1].data["message_count"] == 4
    turns = [event for event in seen if event.kind.startswith("turn-")]
    assert [event.kind for event in turns][:3] == ["turn-started", "turn-finished", "turn-started"]
    assert turns[0].session_key == "beta/b2"
    finished = turns[1].data
    assert finished["outcome"] == "ok" and finished["duration"] >= 0
    assert finished["input_tokens"] > 0 and finished["output_tokens"] > 0
