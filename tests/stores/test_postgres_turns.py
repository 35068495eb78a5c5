"""How database turns hold their sessions: a lock, but no connection and no transaction while
the model answers; ``clear`` and cleanup respect a turn in flight; a writer that ignores the
lock makes the turn fail cleanly.

A turn in flight is a :class:`~helpers.stores.HeldTurn`: it holds its session until the test
lets it commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest
from helpers.stores import HeldTurn, msg, waiting_for_the_session

from vel_runner.errors import SessionConflictError
from vel_runner.storage.postgres import PostgresStore


@pytest.fixture
async def store(fresh_postgres_dsn: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(fresh_postgres_dsn, max_size=1, timeout=1.0)
    await s.open()
    yield s
    await s.close()


async def one_turn(store: PostgresStore, session_id: str, text: str = "hi") -> None:
    await (await HeldTurn(store, session_id, text).entered()).finish()


def sql(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(query)
        return cursor.fetchall() if cursor.description else []


async def test_slow_turns_do_not_need_a_connection_each(
    store: PostgresStore, fresh_postgres_dsn: str
) -> None:
    """A pool of one connection serves eight turns whose models answer at the same time,
    and no transaction stays open while they do."""
    held = [HeldTurn(store, f"s{i}") for i in range(8)]
    await asyncio.gather(*(h.entered() for h in held))  # all eight at once: not one by one
    open_transactions = await asyncio.to_thread(
        sql,
        fresh_postgres_dsn,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND state LIKE 'idle in transaction%'",
    )
    await asyncio.gather(*(h.finish() for h in held))
    assert open_transactions == [(0,)]
    assert sorted((i.session_id, i.message_count) for i in await store.list("a")) == [
        (f"s{i}", 2) for i in range(8)
    ]


async def test_clear_waits_for_the_turn_in_flight(store: PostgresStore) -> None:
    await one_turn(store, "s", "first")
    held = await HeldTurn(store, "s", "second").entered()
    clearing = asyncio.create_task(store.clear("a", "s"))
    await waiting_for_the_session(store, clearing)
    await held.finish()  # committed before the clear (had the clear not waited: a conflict)
    assert await clearing is True
    assert await store.get("a", "s") is None  # and the clear removed it all


async def test_cleanup_leaves_a_session_in_a_turn_alone(
    store: PostgresStore, fresh_postgres_dsn: str
) -> None:
    await one_turn(store, "idle")
    await one_turn(store, "busy")
    await asyncio.to_thread(
        sql, fresh_postgres_dsn, "UPDATE vel_sessions SET updated_at = now() - interval '2 hours'"
    )
    held = await HeldTurn(store, "busy", "back again").entered()
    assert await store.delete_inactive(3600) == 1  # "idle" only: "busy" is in a turn
    await held.finish()
    record = await store.get("a", "busy")
    assert record is not None and len(record.messages) == 4


async def test_a_delete_that_ignores_the_lock_fails_the_turn_and_stores_nothing(
    store: PostgresStore, fresh_postgres_dsn: str
) -> None:
    await one_turn(store, "s", "first")
    with pytest.raises(SessionConflictError, match="nothing was stored"):
        async with store.turn("a", "s") as turn:
            await asyncio.to_thread(sql, fresh_postgres_dsn, "DELETE FROM vel_sessions")
            await turn.commit([msg("user", "lost"), msg("assistant", "re: lost")])
    assert await store.get("a", "s") is None
    await one_turn(store, "s", "again")  # the session is usable again, its lock released
    record = await store.get("a", "s")
    assert record is not None and [m["content"] for m in record.messages] == ["again", "re: again"]


async def test_a_turn_cancelled_while_waiting_for_the_session_leaves_no_lock(
    fresh_postgres_dsn: str,
) -> None:
    """Two stores are two processes as far as PostgreSQL is concerned."""
    first = PostgresStore(fresh_postgres_dsn, timeout=1.0)
    second = PostgresStore(fresh_postgres_dsn, timeout=1.0)
    try:
        holder = await HeldTurn(first, "s", "held").entered()
        waiter = HeldTurn(second, "s", "given up")
        await waiting_for_the_session(second, waiter.task)  # in PostgreSQL's lock queue
        waiter.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter.task
        await holder.finish()
        await asyncio.wait_for(one_turn(second, "s", "next"), 5)  # nothing left locked
        record = await first.get("a", "s")
        assert record is not None
        assert [m["content"] for m in record.messages][::2] == ["held", "next"]
    finally:
        await first.close()
        await second.close()


async def test_a_waited_turn_gives_its_connection_back_to_the_pool(
    fresh_postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A turn that waited for another process's turn returns its pool connection (lock
    released) instead of closing it: no new login, no pool warning."""
    first = PostgresStore(fresh_postgres_dsn, timeout=2.0)
    second = PostgresStore(fresh_postgres_dsn, timeout=2.0)
    await first.open()
    await second.open()
    try:
        await one_turn(second, "s", "warm")  # the pool has made its one connection by now
        made = second.pool_stats()["connections_num"]
        for i in range(3):
            holder = await HeldTurn(first, "s", f"held-{i}").entered()
            waiter = HeldTurn(second, "s", f"waited-{i}")
            await waiting_for_the_session(second, waiter.task)  # in PostgreSQL's lock queue
            await holder.finish()
            await (await waiter.entered()).finish()
        stats = second.pool_stats()
        assert (stats["connections_num"], stats.get("returns_bad", 0)) == (made, 0)
        assert not [r for r in caplog.records if r.name.startswith("psycopg")]
        record = await first.get("a", "s")
        assert record is not None
        assert [m["content"] for m in record.messages][2::2] == [
            text for i in range(3) for text in (f"held-{i}", f"waited-{i}")
        ]
    finally:
        await first.close()
        await second.close()


async def test_a_waiting_connection_goes_back_to_the_pool_without_its_lock(
    store: PostgresStore, fresh_postgres_dsn: str
) -> None:
    """What a turn cancelled just after its lock was granted leaves behind: nothing."""
    from vel_runner.storage.pg_pool import Pool
    from vel_runner.storage.pg_turn_connections import WaitingConnection

    pool = Pool(
        lambda: fresh_postgres_dsn, name="t", min_size=1, max_size=1, timeout=2, max_idle=60
    )
    await pool.open()
    try:
        waiting = WaitingConnection(pool)
        await waiting.wait_for_lock({"a": "a", "s": "s"})
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        assert await asyncio.to_thread(sql, fresh_postgres_dsn, held) == [(1,)]
        await waiting.release()  # not unlocked by a write
        assert await asyncio.to_thread(sql, fresh_postgres_dsn, held) == [(0,)]
        async with pool.connection() as conn:  # the same connection, back in the pool
            await conn.execute("SELECT 1")
        assert (pool.stats()["connections_num"], pool.stats().get("returns_bad", 0)) == (1, 0)
    finally:
        await pool.close()
