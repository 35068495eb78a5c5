"""A tool turn through the PostgreSQL store: the user message, the assistant tool_calls
message, the tool results and the answer stored in one commit and read back intact (also by
a second agent on its own pool, as another process would); a failed tool turn stores nothing;
a window over a database session keeps tool pairs whole."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vel_runner import Agent, ContextManager
from vel_runner.storage.postgres import PostgresStore

ECHO = {"provider": "echo", "model": "echo-1"}


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def pairs_intact(messages: list[dict[str, Any]]) -> bool:
    open_ids: list[str] = []
    for message in messages:
        if message["role"] == "tool":
            if message["tool_call_id"] not in open_ids:
                return False
            open_ids.remove(message["tool_call_id"])
        elif open_ids:
            return False
        else:
            open_ids = [c["id"] for c in message.get("tool_calls") or ()]
    return not open_ids


async def test_a_tool_turn_round_trips_through_postgres(fresh_postgres_dsn: str) -> None:
    store = PostgresStore(fresh_postgres_dsn)
    other = PostgresStore(fresh_postgres_dsn)
    agent = Agent("calc", model=ECHO, session_storage=store, tools=[add])
    reader = Agent("calc", model=ECHO, session_storage=other, tools=[add])
    try:
        answer = await agent.run('/tool add {"a": 2, "b": 3}\n/tool add {"a": 1, "b": 1}', "s")
        assert answer == "echo (4 messages): add -> 5; add -> 2"
        stored = await reader.ctxmgr.aget_session_context("s")
        assert [m["role"] for m in stored] == ["user", "assistant", "tool", "tool", "assistant"]
        calls = stored[1]["tool_calls"]
        assert stored[1]["content"] is None
        assert [c["function"]["arguments"] for c in calls] == [
            '{"a": 2, "b": 3}',
            '{"a": 1, "b": 1}',
        ]
        assert [m["tool_call_id"] for m in stored[2:4]] == [c["id"] for c in calls]
        # the next turn (through the other pool) sends the stored pairs back to the model
        follow = await reader.run("and now?", "s")
        assert follow == "echo (6 messages): and now?"
    finally:
        await agent.aclose()
        await reader.aclose()
        await store.close()
        await other.close()


async def test_a_cancelled_tool_turn_stores_nothing_in_postgres(fresh_postgres_dsn: str) -> None:
    store = PostgresStore(fresh_postgres_dsn)
    called = asyncio.Event()

    async def hang() -> str:
        """Never returns in time."""
        called.set()
        await asyncio.Event().wait()  # until the turn is cancelled
        return "no"

    agent = Agent("calc", model=ECHO, session_storage=store, tools=[hang])
    try:
        await agent.run("hello", "s")
        task = asyncio.create_task(agent.run("/tool hang {}", "s"))
        await asyncio.wait_for(called.wait(), 10)  # the model called it: mid tool step
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [m["content"] for m in await agent.ctxmgr.aget_session_context("s")] == [
            "hello",
            "echo (1 messages): hello",
        ]
    finally:
        await agent.aclose()
        await store.close()


async def test_a_window_over_postgres_keeps_tool_pairs(fresh_postgres_dsn: str) -> None:
    store = PostgresStore(fresh_postgres_dsn)
    agent = Agent(
        "calc",
        model=ECHO,
        session_storage=store,
        tools=[add],
        context_manager=ContextManager(max_history=3),
    )
    try:
        for n in range(4):
            await agent.run(f'/tool add {{"a": {n}, "b": 1}}\n/tool add {{"a": 0, "b": 0}}', "s")
            stored = await agent.ctxmgr.aget_session_context("s")
            assert len(stored) <= 3 and pairs_intact(stored)
    finally:
        await agent.aclose()
        await store.close()
