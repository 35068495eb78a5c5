"""The same guarantees from both stores: every test here runs against the memory store and a
real PostgreSQL. A turn in flight holds its session: ``clear`` and ``set`` wait for it,
cleanup and the sweep skip it, and expiry never drops what the turn read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from helpers.stores import STORE_KINDS, msg, opened_store

from vel_runner.storage import SessionEvent, SessionStore

MODEL_SECONDS = 0.3


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    async with opened_store(request.param, request) as opened:
        yield opened


async def slow_turn(
    store: SessionStore, session_id: str, text: str = "hi", *, ttl: float | None = None
) -> None:
    async with store.turn("a", session_id) as turn:
        await asyncio.sleep(MODEL_SECONDS)  # the model answering
        await turn.commit([msg("user", text), msg("assistant", f"re: {text}")], ttl=ttl)


async def contents(store: SessionStore, session_id: str) -> list[str] | None:
    record = await store.get("a", session_id)
    return None if record is None else [m["content"] for m in record.messages]


async def test_a_session_that_expires_during_a_turn_keeps_its_history(
    store: SessionStore,
) -> None:
    await slow_turn(store, "s", "first", ttl=MODEL_SECONDS / 2)
    await slow_turn(store, "s", "second", ttl=60)  # read "first"; it expires while we wait
    assert await contents(store, "s") == ["first", "re: first", "second", "re: second"]


async def test_get_and_list_do_not_drop_an_expired_session_a_turn_read(
    store: SessionStore,
) -> None:
    await slow_turn(store, "s", "first", ttl=MODEL_SECONDS / 3)
    turn = asyncio.create_task(slow_turn(store, "s", "second", ttl=60))
    await asyncio.sleep(MODEL_SECONDS * 2 / 3)  # expired now, the turn still answering
    assert await store.get("a", "s") is None  # expired sessions are never served...
    assert await store.list("a") == []
    await turn
    assert await contents(store, "s") == ["first", "re: first", "second", "re: second"]


async def test_cleanup_skips_a_session_in_a_turn(store: SessionStore) -> None:
    await slow_turn(store, "idle")
    await slow_turn(store, "busy")
    turn = asyncio.create_task(slow_turn(store, "busy", "back again"))
    await asyncio.sleep(MODEL_SECONDS / 3)
    assert await store.delete_inactive(0) == 1  # "idle" only: "busy" is in a turn
    await turn
    assert await contents(store, "busy") == ["hi", "re: hi", "back again", "re: back again"]
    assert await contents(store, "idle") is None


async def test_clear_waits_for_the_turn_in_flight(store: SessionStore) -> None:
    await slow_turn(store, "s", "first")
    turn = asyncio.create_task(slow_turn(store, "s", "second"))
    await asyncio.sleep(MODEL_SECONDS / 3)
    assert await store.clear("a", "s") is True
    await turn  # committed before the clear (else: a session that reappears, or a conflict)
    assert await store.get("a", "s") is None  # and the clear removed it all


async def test_set_waits_for_the_turn_in_flight(store: SessionStore) -> None:
    await slow_turn(store, "s", "first")
    turn = asyncio.create_task(slow_turn(store, "s", "second"))
    await asyncio.sleep(MODEL_SECONDS / 3)
    await store.set("a", "s", [msg("system", "new context")])
    await turn
    # the old turn's reply went into the old context, which the set then replaced
    assert await contents(store, "s") == ["new context"]


async def test_the_sweep_deletes_expired_sessions_only_and_says_so(store: SessionStore) -> None:
    events: list[SessionEvent] = []
    store.add_listener(events.append)
    await slow_turn(store, "short", ttl=MODEL_SECONDS / 3)
    await slow_turn(store, "long", ttl=60)
    await slow_turn(store, "forever")
    await asyncio.sleep(MODEL_SECONDS / 2)
    events.clear()
    assert await store.sweep() == 1
    assert await store.sweep() == 0
    assert sorted(i.session_id for i in await store.list("a")) == ["forever", "long"]
    await asyncio.sleep(0.2)  # the database store's own events come back directly
    assert [(e.kind, e.session_id) for e in events] == [("expired", "short")]


async def test_the_sweep_skips_a_session_in_a_turn(store: SessionStore) -> None:
    await slow_turn(store, "s", "first", ttl=MODEL_SECONDS / 3)
    turn = asyncio.create_task(slow_turn(store, "s", "second", ttl=60))
    await asyncio.sleep(MODEL_SECONDS * 2 / 3)  # expired, and in a turn
    assert await store.sweep() == 0
    await turn
    assert await contents(store, "s") == ["first", "re: first", "second", "re: second"]
