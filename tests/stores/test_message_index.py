"""Stored messages found by their ``id`` through an index (``find_message``), in memory and in
PostgreSQL: the Responses API's ``previous_response_id`` leads to its session this way."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from helpers.clock import past
from helpers.stores import STORE_KINDS, msg, opened_store

from vel_runner.storage import MessageIndex, MessageRef, SessionStore
from vel_runner.storage import pg_sql as q
from vel_runner.storage.postgres import PostgresStore


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    async with opened_store(request.param, request) as opened:
        yield opened


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
    await past((await store.get("a", "s")).expires_at)
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
        plan = conn.execute(f"EXPLAIN {q.FIND_MESSAGES}", {"ids": ["r1"]}).fetchall()
    assert "vel_messages_message_id_idx" in " ".join(row[0] for row in plan)


async def test_another_session_storing_a_held_id_does_not_take_it(store) -> None:
    """A client that sends another session's response id as its own message id (or a copy of
    a history) never re-points that id: both stores keep it with the session that held it,
    however long the other session is."""
    await turn(store, "victim", 1)
    for n in range(2, 8):  # the other session's rows get higher positions than the victim's
        await turn(store, "other", n)
    async with store.turn("a", "other") as t:
        await t.commit([msg("user", "mine now", "r1"), msg("assistant", "sure", "r9")])
    assert await store.find_message("r1") == MessageRef("a", "victim", True)
    await store.set("a", "late", [msg("assistant", "copy", "r1")])
    assert await store.find_message("r1") == MessageRef("a", "victim", True)
    found = await store.find_messages(["r1", "r9", "u1", "nope"])
    assert found == {
        "r1": MessageRef("a", "victim", True),
        "r9": MessageRef("a", "other", True),
        "u1": MessageRef("a", "victim", False),
    }
    assert await store.find_messages([]) == {}
