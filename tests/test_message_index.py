"""Stored messages found by their ``id`` through an index (``find_message``), in memory and in
PostgreSQL: the Responses API's ``previous_response_id`` leads to its session this way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from vel_runner.storage import MessageIndex, MessageRef, SessionStore
from vel_runner.storage.memory import MemoryStore
from vel_runner.storage.postgres import PostgresStore


def msg(role: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": role, "content": text}
    if message_id is not None:
        message["id"] = message_id
    return message


@pytest.fixture(params=["memory", "database"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    dsn = request.getfixturevalue("fresh_postgres_dsn")
    s = PostgresStore(dsn, timeout=2.0)
    await s.open()
    yield s
    await s.close()


async def turn(store: SessionStore, sid: str, n: int, *, keep: int | None = None) -> None:
    async with store.turn("a", sid) as t:
        await t.commit(
            [msg("user", f"q{n}", f"u{n}"), msg("assistant", f"a{n}", f"r{n}")], keep=keep
        )


async def test_find_message_names_the_session_and_whether_it_is_the_latest(store) -> None:
    assert isinstance(store, MessageIndex)
    await turn(store, "s1", 1)
    await turn(store, "s1", 2)
    await turn(store, "s2", 3)
    assert await store.find_message("r1") == MessageRef("a", "s1", False)
    assert await store.find_message("r2") == MessageRef("a", "s1", True)
    assert await store.find_message("u3") == MessageRef("a", "s2", False)
    assert await store.find_message("nope") is None


async def test_messages_leave_the_index_with_their_session(store) -> None:
    await turn(store, "s", 1)
    await turn(store, "s", 2, keep=2)  # trims q1/a1
    assert await store.find_message("r1") is None
    assert await store.find_message("r2") is not None
    await store.set("a", "s", [msg("user", "fresh", "f1")])
    assert await store.find_message("r2") is None
    assert await store.find_message("f1") == MessageRef("a", "s", True)
    assert await store.clear("a", "s")
    assert await store.find_message("f1") is None


async def test_expired_sessions_are_not_found(store, monkeypatch) -> None:
    async with store.turn("a", "s") as t:
        await t.commit([msg("user", "q", "u"), msg("assistant", "a", "r")], ttl=0.05)
    import asyncio

    await asyncio.sleep(0.1)
    assert await store.find_message("r") is None


async def test_the_database_index_survives_restarts_and_is_used(fresh_postgres_dsn: str) -> None:
    first = PostgresStore(fresh_postgres_dsn)
    await turn(first, "s", 1)
    await first.close()
    second = PostgresStore(fresh_postgres_dsn)  # a new process, say
    assert await second.find_message("r1") == MessageRef("a", "s", True)
    await second.close()
    with psycopg.connect(fresh_postgres_dsn) as conn:
        conn.execute("SET enable_seqscan = off")  # a tiny table: make the planner show its pick
        plan = conn.execute(
            "EXPLAIN SELECT 1 FROM vel_messages WHERE message->>'id' = 'r1'"
        ).fetchall()
    assert "vel_messages_message_id_idx" in " ".join(row[0] for row in plan)
