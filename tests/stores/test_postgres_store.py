"""The PostgreSQL store against a real server: protocol semantics (matching the memory
store), windows and the cache, TTL, the spec's cleanup SQL, sync twins, events, bad input."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest
from helpers.clock import past
from helpers.stores import events_settled
from helpers.waiting import wait_until

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
        await t.commit(
            [msg("user", text), msg("assistant", f"re: {text}")],
            keep=keep,
            summary=summary,
            ttl=ttl,
        )
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


async def script(store, agent: str = "a") -> list[object]:
    """One scripted life of a few sessions; returns everything a caller can observe."""
    seen: list[object] = []
    go = functools.partial(turn, agent=agent)

    async def observe(sid: str) -> None:
        record = await store.get(agent, sid)
        seen.append(None if record is None else (record.messages, record.summary))

    for i in range(6):
        seen.append(await go(store, "plain", f"p{i}"))
    await store.set(agent, "pinned", [msg("system", "be brief"), msg("user", "hi")])
    for i in range(5):
        seen.append(await go(store, "pinned", f"w{i}", window=3, keep=3))
        await observe("pinned")
    for i in range(4):  # summaries: set, unchanged, cleared
        summary = ["s1", UNCHANGED, None, UNCHANGED][i]
        seen.append(await go(store, "sum", f"s{i}", window=2, keep=1, summary=summary))
        await observe("sum")
    # keep=0 empties the unpinned part; a leading system message then becomes pinned too
    await store.set(agent, "edge", [msg("system", "one")])
    async with store.turn(agent, "edge") as t:
        await t.commit([msg("system", "two"), msg("user", "u")], keep=0)
    seen.append(await go(store, "edge", "x", window=1))
    await observe("edge")
    async with store.turn(agent, "edge") as t:  # a turn that does not commit stores nothing
        seen.append(list(t.history))
    await observe("edge")
    seen.append(await store.clear(agent, "plain"))
    seen.append(await store.clear(agent, "plain"))
    seen.append(await go(store, "plain", "again"))
    await store.set(agent, "sum", [])
    await observe("sum")
    seen.append([(i.session_id, i.message_count) for i in await store.list(agent)])
    return seen


async def test_same_observable_behaviour_as_the_memory_store(store: PostgresStore) -> None:
    expected = await script(MemoryStore())
    assert await script(store) == expected
    # and again on the warm cache, under another agent id
    assert await script(store, "b") == await script(MemoryStore(), "b")


async def test_window_reads_pinned_plus_last_n(store: PostgresStore) -> None:
    history = [msg("system", "sys")] + [msg("user", f"m{i}") for i in range(1000)]
    await store.set("a", "long", history)
    seen = await turn(store, "long", "next", window=20)
    assert seen == [history[0], *history[-20:]]
    cold = PostgresStore(store.dsn)  # another process: nothing cached
    await cold.open()
    try:
        seen = await turn(cold, "long", "again", window=4)
        assert seen == [
            history[0],
            *history[-2:],
            msg("user", "next"),
            msg("assistant", "re: next"),
        ]
        seen = await turn(cold, "long", "more")  # full history, from the warm copy + a re-read
        assert len(seen) == 1001 + 4 and seen[-1] == msg("assistant", "re: again")
    finally:
        await cold.close()


async def test_a_second_process_sees_appends_replacements_and_trims(store: PostgresStore) -> None:
    other = PostgresStore(store.dsn)
    await other.open()
    try:
        for i in range(3):  # alternate: each warm copy must fetch what the other appended
            await turn(store, "shared", f"a{i}")
            seen = await turn(other, "shared", f"b{i}")
            assert len(seen) == 4 * i + 2 and seen[-1] == msg("assistant", f"re: a{i}")
        await other.set("a", "shared", [msg("user", "reset")])  # a new epoch
        assert await turn(store, "shared", "after reset") == [msg("user", "reset")]
        await turn(other, "shared", "trim", keep=1)  # trims below this process's copy
        assert await turn(store, "shared", "last") == [msg("assistant", "re: trim")]
        await other.clear("a", "shared")
        assert await turn(store, "shared", "new") == []
        for i in range(10):  # more than the window: the read starts above the cached copy
            await turn(other, "shared", f"o{i}", window=4)
        seen = await turn(store, "shared", "windowed", window=4)
        assert [m["content"] for m in seen] == ["o8", "re: o8", "o9", "re: o9"]
        seen = await turn(store, "shared", "whole")  # needs older ones than it holds
        assert len(seen) == 24 and seen[:2] == [msg("user", "new"), msg("assistant", "re: new")]
    finally:
        await other.close()


async def test_ttl_expired_sessions_are_never_served_and_cleanup_removes_them(
    store: PostgresStore,
) -> None:
    events: list[SessionEvent] = []
    store.add_listener(events.append)
    await turn(store, "short", "hello", ttl=0.3)
    await turn(store, "long", "hello", ttl=3600)
    record = await store.get("a", "long")
    assert record is not None and record.expires_at is not None
    short = await store.get("a", "short")
    assert short is not None
    await past(short.expires_at)
    assert await store.get("a", "short") is None
    assert store.get_sync("a", "short") is None
    assert [i.session_id for i in await store.list("a")] == ["long"]
    assert await turn(store, "short", "again") == []  # an expired session starts over
    kinds = [(e.kind, e.session_id) for e in events if e.session_id == "short"]
    assert kinds == [("created", "short"), ("expired", "short"), ("created", "short")]
    await turn(store, "short", "bye", ttl=0.1)
    await past((await store.get("a", "short")).expires_at)  # type: ignore[union-attr]
    assert await store.delete_inactive(3600) == 1  # the expired one, not the live one
    async with await psycopg.AsyncConnection.connect(store.dsn) as conn:
        cur = await conn.execute("SELECT id FROM vel_sessions")
        assert [r[0] for r in await cur.fetchall()] == ["long"]


async def test_the_specs_cleanup_sql_works_as_written(store: PostgresStore) -> None:
    for sid in ("old", "new"):
        await turn(store, sid, "hi")
        await turn(store, sid, "again")
    async with await psycopg.AsyncConnection.connect(store.dsn, autocommit=True) as conn:
        await conn.execute(
            "UPDATE vel_sessions SET updated_at = NOW() - INTERVAL '8 days' WHERE id = 'old'"
        )
        cur = await conn.execute(
            "DELETE FROM vel_sessions\nWHERE updated_at < NOW() - INTERVAL '7 days';"
        )
        assert cur.rowcount == 1
        cur = await conn.execute("SELECT session_id, count(*) FROM vel_messages GROUP BY 1")
        assert await cur.fetchall() == [("new", 4)]  # the old one's messages went with it
        cur = await conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'vel_sessions'")
        indexes = " ".join(r[0] for r in await cur.fetchall())
    assert "(id)" in indexes and "(updated_at)" in indexes
    assert await store.get("a", "old") is None
    assert await turn(store, "old", "back") == []  # the warm cache noticed


async def test_list_counts_filters_and_pages(store: PostgresStore) -> None:
    await store.set("a", "s2", [msg("system", "sys"), msg("user", "u")])
    await turn(store, "s1", "x")
    await turn(store, "s3", "x", agent="b")
    rows = await store.list()
    assert [(r.agent_id, r.session_id, r.message_count, r.store) for r in rows] == [
        ("a", "s1", 2, "database"),
        ("a", "s2", 2, "database"),
        ("b", "s3", 2, "database"),
    ]
    assert [r.session_id for r in await store.list("a", after=("a", "s1"), limit=5)] == ["s2"]
    assert [r.session_id for r in await store.list(limit=1)] == ["s1"]
    assert await store.list(inactive_for=60) == []
    last = max(r.updated_at for r in await store.list())
    await past(last + timedelta(seconds=0.01))
    assert len(await store.list("a", inactive_for=0.01)) == 2
    assert [r.session_id for r in store.list_sync("b")] == ["s3"]
    assert await store.delete_inactive(0.01, agent_id="b") == 1
    assert [r.agent_id for r in await store.list()] == ["a", "a"]


def test_sync_twins_work_from_plain_code_without_a_loop(fresh_postgres_dsn: str) -> None:
    s = PostgresStore(fresh_postgres_dsn)  # never opened: the sync path migrates itself
    s.set_sync("a", "s", [msg("system", "sys"), msg("user", "u")], ttl=60)
    record = s.get_sync("a", "s")
    assert record is not None and record.messages[1] == msg("user", "u")
    assert record.expires_at is not None
    assert [(r.session_id, r.message_count) for r in s.list_sync()] == [("s", 2)]
    assert s.clear_sync("a", "s") is True and s.clear_sync("a", "s") is False
    s.set_sync("a", "t", [msg("user", "u")])
    assert s.delete_inactive_sync(0) == 1
    asyncio.run(s.close())


async def test_sync_twins_work_inside_async_code_and_from_threads(store: PostgresStore) -> None:
    await turn(store, "s", "hello")
    assert len(store.get_sync("a", "s").messages) == 2  # on the loop's thread (blocks briefly)
    events: list[SessionEvent] = []
    store.add_listener(events.append)
    await asyncio.to_thread(store.set_sync, "a", "s", [msg("user", "from a thread")])
    await wait_until(lambda: events, what="the event, handed to the loop thread")
    await events_settled(store, events)
    assert [(e.kind, e.message_count) for e in events] == [("updated", 1)]
    assert await turn(store, "s", "next") == [msg("user", "from a thread")]


async def test_events_local_once_and_from_other_processes(store: PostgresStore) -> None:
    events: list[SessionEvent] = []
    remove = store.add_listener(events.append)
    other = PostgresStore(store.dsn)
    await other.open()
    try:
        assert await store.hearing_others()
        await turn(store, "mine", "x")
        await turn(other, "theirs", "y")
        await other.clear("a", "theirs")
        await wait_until(lambda: len(events) >= 3, what="three events")
        await events_settled(store, events)  # a duplicate of the local event would be in now
        assert [(e.kind, e.session_id, e.message_count, e.store) for e in events] == [
            ("created", "mine", 2, "database"),
            ("created", "theirs", 2, "database"),
            ("cleared", "theirs", 0, "database"),
        ]
    finally:
        remove()
        await other.close()


async def test_bad_input_is_rejected_before_any_write(store: PostgresStore) -> None:
    with pytest.raises(InvalidInputError, match="JSON-serializable"):
        async with store.turn("a", "bad") as t:
            await t.commit([msg("user", "ok"), {"role": "assistant", "content": object()}])
    with pytest.raises(InvalidInputError, match="NUL"):
        await store.set("a", "bad", [msg("user", "a\x00b")])
    with pytest.raises(InvalidInputError, match="JSON-serializable"):
        store.set_sync("a", "bad", [{"role": "user", "content": {1, 2}}])
    assert await store.get("a", "bad") is None and await store.list() == []
    # a literal backslash-u-0000 is fine text, and SQL-looking ids are just ids
    evil = "x'); DROP TABLE vel_sessions; --"
    await store.set(evil, evil, [msg("user", "\\u0000 and 'quotes' and \"more\"")])
    assert await turn(store, evil, "hi", agent=evil) == [
        msg("user", "\\u0000 and 'quotes' and \"more\"")
    ]
    assert [(r.agent_id, r.session_id) for r in await store.list()] == [(evil, evil)]


async def test_missing_dsn_and_unreachable_server_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POSTGRES_DSN", raising=False)
    with pytest.raises(StoreUnavailableError, match="POSTGRES_DSN"):
        await PostgresStore().open()
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = PostgresStore(f"postgresql://vel:s3cret@127.0.0.1:{port}/db", timeout=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StoreUnavailableError, match="unavailable") as info:
        async with dead.turn("a", "s"):
            pass
    assert loop.time() - started < 3 and "s3cret" not in str(info.value)
    with pytest.raises(StoreUnavailableError) as info:
        dead.get_sync("a", "s")
    assert "s3cret" not in str(info.value)
    await dead.close()


async def test_agent_uses_the_store_and_the_sync_ctxmgr_inside_async_code(
    fresh_postgres_dsn: str,
) -> None:
    from vel_runner import Agent

    store = PostgresStore(fresh_postgres_dsn)
    agent = Agent("bot", {"provider": "echo", "model": "echo"}, session_storage=store)
    try:
        await agent.run({"message": "hello"}, session_id="s")
        await agent.run({"message": "again"}, session_id="s")
        context = agent.ctxmgr.get_session_context("s")  # the spec's sync call
        assert [m["role"] for m in context] == ["user", "assistant", "user", "assistant"]
        assert context[2]["content"] == "again"
        assert [m["content"] for m in await agent.ctxmgr.aget_session_context("s")] == [
            m["content"] for m in context
        ]
    finally:
        await agent.aclose()
        await store.close()


async def test_concurrent_turns_in_one_process_are_serialized(fresh_postgres_dsn: str) -> None:
    s = PostgresStore(fresh_postgres_dsn, max_size=3)
    await s.open()
    seen: list[int] = []

    async def one(i: int) -> None:
        async with s.turn("a", "hot") as t:
            seen.append(len(t.history))
            await asyncio.sleep(0)  # the model call: the other turns get to try the session
            await t.commit([msg("user", f"u{i}"), msg("assistant", f"r{i}")])

    try:
        await asyncio.gather(*(one(i) for i in range(30)))
        assert sorted(seen) == list(range(0, 60, 2))  # each saw every turn before it
        record = await s.get("a", "hot")
        assert record is not None and len(record.messages) == 60
        assert all(
            record.messages[j]["content"][1:] == record.messages[j + 1]["content"][1:]
            for j in range(0, 60, 2)
        )  # pairs never interleave
    finally:
        await s.close()


async def test_cancelled_turns_store_nothing_and_leak_no_connection(
    fresh_postgres_dsn: str,
) -> None:
    s = PostgresStore(fresh_postgres_dsn, max_size=2, timeout=2)
    await s.open()
    try:
        await turn(s, "c", "kept")

        async def stuck(entered: asyncio.Event) -> None:
            async with s.turn("a", "c"):
                entered.set()
                await asyncio.sleep(60)  # a model call that gets cancelled

        for _ in range(5):  # more than max_size: a leaked connection would starve the pool
            entered = asyncio.Event()
            task = asyncio.create_task(stuck(entered))
            await entered.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert await turn(s, "c", "after") == [msg("user", "kept"), msg("assistant", "re: kept")]
        assert s.pool_stats().get("pool_size", 0) <= 2
    finally:
        await s.close()


async def test_hearing_others_waits_for_the_listen_connection(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hearing_others`` is false until the LISTEN connection is up (no listener: never), and
    once it says true another process's change reaches the listener."""
    from vel_runner.storage.pg_events import PgListener

    assert await store.hearing_others(0.05) is False  # nobody listens: no LISTEN connection
    slow_start = PgListener.start
    monkeypatch.setattr(
        PgListener,
        "start",
        lambda self: asyncio.get_running_loop().call_later(0.5, slow_start, self),
    )
    events: list[SessionEvent] = []
    store.add_listener(events.append)
    assert await store.hearing_others(0.05) is False  # still connecting
    assert await store.hearing_others(5) is True
    other = PostgresStore(store.dsn)
    await other.open()
    try:
        await other.set("a", "theirs", [msg("user", "x")])
        await wait_until(lambda: any(e.session_id == "theirs" for e in events), 5)
    finally:
        await other.close()
