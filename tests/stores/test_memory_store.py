"""The in-memory store against the store protocol."""

from __future__ import annotations

import asyncio

import pytest
from helpers.clock import FrozenClock

from vel_runner.storage import UNCHANGED, SessionEvent, SessionStore, create_store
from vel_runner.storage.memory import MemoryStore


def msg(role: str, text: str) -> dict[str, str]:
    return {"role": role, "content": text}


def test_memory_store_implements_the_protocol() -> None:
    store = create_store("memory", name="fast")
    assert isinstance(store, SessionStore)
    assert store.name == "fast" and store.kind == "memory"


async def test_turn_reads_window_and_commit_trims_keeping_pinned_system() -> None:
    store = MemoryStore()
    store.set_sync("a", "s", [msg("system", "sys"), *(msg("user", str(i)) for i in range(5))])
    async with store.turn("a", "s", window=2) as turn:
        assert turn.history == [msg("system", "sys"), msg("user", "3"), msg("user", "4")]
        await turn.commit([msg("user", "5"), msg("assistant", "6")], keep=3, summary="S")
    record = store.get_sync("a", "s")
    assert record is not None
    assert [m["content"] for m in record.messages] == ["sys", "4", "5", "6"]
    assert record.summary == "S"
    async with store.turn("a", "s") as turn:
        assert turn.summary == "S" and len(turn.history) == 4
        await turn.commit([msg("user", "7")], summary=UNCHANGED)
    assert store.get_sync("a", "s").summary == "S"  # type: ignore[union-attr]


async def test_leaving_a_turn_without_commit_stores_nothing() -> None:
    store = MemoryStore()
    with pytest.raises(RuntimeError):
        async with store.turn("a", "s"):
            raise RuntimeError("provider failed")
    assert store.get_sync("a", "s") is None
    assert len(store._locks) == 0  # no lock left behind


async def test_turns_on_one_session_wait_for_each_other() -> None:
    store = MemoryStore()
    order: list[str] = []

    async def turn(name: str) -> None:
        async with store.turn("a", "s") as held:
            order.append(f"{name}:start:{len(held.history)}")
            await asyncio.sleep(0)  # the model answering: the other turn gets to try
            await held.commit([msg("user", name)])
            order.append(f"{name}:end")

    await asyncio.gather(turn("one"), turn("two"))
    assert order == ["one:start:0", "one:end", "two:start:1", "two:end"]
    assert len(store._locks) == 0


async def test_listing_is_keyset_paginated_and_scoped() -> None:
    store = MemoryStore()
    for agent in ("a", "b"):
        for sid in ("1", "2", "3"):
            await store.set(agent, sid, [msg("user", "x")])
    page = await store.list(limit=4)
    assert [(i.agent_id, i.session_id) for i in page] == [
        ("a", "1"),
        ("a", "2"),
        ("a", "3"),
        ("b", "1"),
    ]
    rest = await store.list(after=("b", "1"))
    assert [(i.agent_id, i.session_id) for i in rest] == [("b", "2"), ("b", "3")]
    assert [i.session_id for i in await store.list("b", limit=1)] == ["1"]


async def test_events_are_emitted_for_every_change() -> None:
    clock = FrozenClock()
    store = MemoryStore(name="mem", clock=clock)
    seen: list[SessionEvent] = []
    remove = store.add_listener(seen.append)
    async with store.turn("a", "s") as turn:
        await turn.commit([msg("user", "hi"), msg("assistant", "yo")])
    async with store.turn("a", "s") as turn:
        await turn.commit([msg("user", "again")])
    await store.clear("a", "s")
    await store.set("a", "t", [msg("user", "x")], ttl=0.01)
    clock.advance(0.02)
    assert await store.get("a", "t") is None
    remove()
    await store.set("a", "u", [msg("user", "x")])
    assert [(e.kind, e.session_id, e.message_count) for e in seen] == [
        ("created", "s", 2),
        ("updated", "s", 3),
        ("cleared", "s", 0),
        ("created", "t", 1),
        ("expired", "t", 0),
    ]
    assert all(e.store == "mem" for e in seen)


async def test_a_broken_listener_does_not_break_a_turn() -> None:
    store = MemoryStore()

    def broken(event: SessionEvent) -> None:
        raise RuntimeError("listener bug")

    store.add_listener(broken)
    async with store.turn("a", "s") as turn:
        await turn.commit([msg("user", "hi")])
    assert store.get_sync("a", "s") is not None


async def test_delete_inactive_removes_idle_and_expired() -> None:
    clock = FrozenClock()
    store = MemoryStore(clock=clock)
    await store.set("a", "expired", [msg("user", "x")], ttl=0.01)
    await store.set("a", "live", [msg("user", "x")])
    await store.set("b", "live", [msg("user", "x")])
    clock.advance(0.02)
    assert await store.delete_inactive(3600) == 1
    assert await store.delete_inactive(0, agent_id="b") == 1
    assert [(i.agent_id, i.session_id) for i in await store.list()] == [("a", "live")]


async def test_past_max_sessions_the_least_recently_updated_session_is_evicted() -> None:
    store = MemoryStore(max_sessions=3)
    events: list[SessionEvent] = []
    store.add_listener(events.append)
    for sid in ("1", "2", "3"):
        await store.set("a", sid, [msg("user", sid)])
    async with store.turn("a", "1") as turn:  # "1" is now the most recently updated
        await turn.commit([msg("assistant", "again")])
    await store.set("a", "4", [msg("user", "4")])
    assert [i.session_id for i in await store.list()] == ["1", "3", "4"]
    assert len(store) == 3
    assert ("cleared", "2") in [(e.kind, e.session_id) for e in events]  # the dashboard drops it


async def test_eviction_never_takes_a_session_in_a_turn() -> None:
    store = MemoryStore(max_sessions=1)
    await store.set("a", "old", [msg("user", "x")])
    async with store.turn("a", "old") as turn:
        await store.set("a", "new", [msg("user", "y")])  # full, and "old" is in a turn
        assert len(store) == 2  # over the limit by the sessions in a turn, for now
        await turn.commit([msg("user", "z")])
    record = store.get_sync("a", "old")
    assert record is not None and [m["content"] for m in record.messages] == ["x", "z"]
    await store.set("a", "newer", [msg("user", "w")])  # now both older ones are idle
    assert [i.session_id for i in await store.list()] == ["newer"]


async def test_a_new_session_of_a_turn_evicts_an_idle_one_not_itself() -> None:
    store = MemoryStore(max_sessions=2)
    await store.set("a", "1", [msg("user", "1")])
    await store.set("a", "2", [msg("user", "2")])
    async with store.turn("a", "3") as turn:
        await turn.commit([msg("user", "3")])
    assert [i.session_id for i in await store.list()] == ["2", "3"]


def test_max_sessions_must_be_a_positive_integer() -> None:
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_sessions"):
            MemoryStore(max_sessions=bad)  # type: ignore[arg-type]


async def test_sync_set_and_clear_refuse_a_session_in_a_turn_instead_of_racing_it() -> None:
    from vel_runner.errors import SessionConflictError

    store = MemoryStore()
    async with store.turn("a", "s") as turn:
        with pytest.raises(SessionConflictError, match="in a turn"):
            store.clear_sync("a", "s")
        with pytest.raises(SessionConflictError, match="in a turn"):
            store.set_sync("a", "s", [msg("user", "new")])
        await turn.commit([msg("user", "kept")])
    assert store.clear_sync("a", "s") is True
