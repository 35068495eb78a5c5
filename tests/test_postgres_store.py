"""The PostgreSQL store against a real server: protocol semantics (matching the memory
store), windows and the cache, TTL, the spec's cleanup SQL, sync twins, events, bad input."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import psycopg
import pytest

from vel_runner.errors import InvalidInputError, StoreUnavailableError
from vel_runner.storage import UNCHANGED, SessionEvent, create_store
from vel_runner.storage.memory import MemoryStore
from vel_runner.storage.postgres import PostgresStore


def msg(role: str, text: str) -> dict[str, str]:
    return {"role": role, "content": text}


@pytest.fixture
async def store(fresh_postgres_dsn: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(fresh_postgres_dsn, timeout=2.0)
    await s.open()
    yield s
    await s.close()


async def turn(store, sid, text, *, agent="a", window=None, keep=None, ttl=None, summary=UNCHANGED):
    async with store.turn(agent, sid, window=window) as t:
        seen = list(t.history)
        await t.commit([msg("user", text), msg("assistant", f"re: {text}")], keep=keep,
                       summary=summary, ttl=ttl)
    return seen


async def test_registry_builds_it_and_round_trips_turns(fresh_postgres_dsn: str) -> None:
    s = create_store("database", dsn=fresh_postgres_dsn)
    assert isinstance(s, PostgresStore) and s.kind == "database" and s.name == "database"
    await s.open()
    await s.open()  # idempotent
    try:
        assert await turn(s, "s1", "one") == []
        assert await turn(s, "s1", "two") == [msg("user", "one"), msg("assistant", "re: one")]
        record = await s.get("a", "s1")
        assert record is not None and len(record.messages) == 4 and record.summary is None
        assert record.created_at <= record.updated_at and record.expires_at is None
        assert await s.get("b", "s1") is None  # sessions belong to an agent
    finally:
        await s.close()
        await s.close()
