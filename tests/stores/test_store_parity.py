"""The same guarantees from both stores: every test here runs against the memory store and a
real PostgreSQL. A turn in flight holds its session: ``clear`` and ``set`` wait for it,
cleanup and the sweep skip it, and expiry never drops what the turn read.

A turn in flight is a :class:`~helpers.stores.HeldTurn` (it commits when the test lets it);
a TTL runs out on the real clock (the database's is this machine's), waited for with
:func:`~helpers.clock.past`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from helpers.clock import past
from helpers.stores import (
    STORE_KINDS,
    HeldTurn,
    events_settled,
    msg,
    opened_store,
    waiting_for_the_session,
)

from vel_runner.storage import SessionEvent, SessionStore

#: Long enough for the next turn to read a session before it expires, on a loaded machine.
TTL = 0.3


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    async with opened_store(request.param, request) as opened:
        yield opened


async def turn(
    store: SessionStore, session_id: str, text: str = "hi", *, ttl: float | None = None
) -> None:
    async with store.turn("a", session_id) as held:
        await held.commit([msg("user", text), msg("assistant", f"re: {text}")], ttl=ttl)


async def contents(store: SessionStore, session_id: str) -> list[str] | None:
    record = await store.get("a", session_id)
    return None if record is None else [m["content"] for m in record.messages]


async def expiry(store: SessionStore, session_id: str) -> object:
    record = await store.get("a", session_id)
    assert record is not None
    return record.expires_at


async def test_a_session_that_expires_during_a_turn_keeps_its_history(
    store: SessionStore,
) -> None:
    await turn(store, "s", "first", ttl=TTL)
    expires_at = await expiry(store, "s")
    held = await HeldTurn(store, "s", "second", ttl=60).entered()  # it read "first"
    await past(expires_at)  # the session expires while the model answers
    await held.finish()
    assert await contents(store, "s") == ["first", "re: first", "second", "re: second"]


async def test_get_and_list_do_not_drop_an_expired_session_a_turn_read(
    store: SessionStore,
) -> None:
    await turn(store, "s", "first", ttl=TTL)
    expires_at = await expiry(store, "s")
    held = await HeldTurn(store, "s", "second", ttl=60).entered()
    await past(expires_at)  # expired now, the turn still answering
    assert await store.get("a", "s") is None  # expired sessions are never served...
    assert await store.list("a") == []
    await held.finish()
    assert await contents(store, "s") == ["first", "re: first", "second", "re: second"]


async def test_cleanup_skips_a_session_in_a_turn(store: SessionStore) -> None:
    await turn(store, "idle")
    await turn(store, "busy")
    held = await HeldTurn(store, "busy", "back again").entered()
    assert await store.delete_inactive(0) == 1  # "idle" only: "busy" is in a turn
    await held.finish()
    assert await contents(store, "busy") == ["hi", "re: hi", "back again", "re: back again"]
    assert await contents(store, "idle") is None


async def test_clear_waits_for_the_turn_in_flight(store: SessionStore) -> None:
    await turn(store, "s", "first")
    held = await HeldTurn(store, "s", "second").entered()
    clearing = asyncio.create_task(store.clear("a", "s"))
    await waiting_for_the_session(store, clearing)
    await held.finish()  # commits before the clear (else: the session reappears, or a conflict)
    assert await clearing is True
    assert await store.get("a", "s") is None  # and the clear removed it all


async def test_set_waits_for_the_turn_in_flight(store: SessionStore) -> None:
    await turn(store, "s", "first")
    held = await HeldTurn(store, "s", "second").entered()
    setting = asyncio.create_task(store.set("a", "s", [msg("system", "new context")]))
    await waiting_for_the_session(store, setting)
    await held.finish()
    await setting
    # the old turn's reply went into the old context, which the set then replaced
    assert await contents(store, "s") == ["new context"]


async def test_the_sweep_deletes_expired_sessions_only_and_says_so(store: SessionStore) -> None:
    events: list[SessionEvent] = []
    store.add_listener(events.append)
    await turn(store, "short", ttl=TTL)
    await turn(store, "long", ttl=60)
    await turn(store, "forever")
    await past(await expiry(store, "short"))
    events.clear()
    assert await store.sweep() == 1
    assert await store.sweep() == 0
    assert sorted(i.session_id for i in await store.list("a")) == ["forever", "long"]
    await events_settled(store, events)  # the database store's own come once, not twice
    assert [(e.kind, e.session_id) for e in events] == [("expired", "short")]


async def test_the_sweep_skips_a_session_in_a_turn(store: SessionStore) -> None:
    await turn(store, "s", "first", ttl=TTL)
    expires_at = await expiry(store, "s")
    held = await HeldTurn(store, "s", "second", ttl=60).entered()
    await past(expires_at)  # expired, and in a turn
    assert await store.sweep() == 0
    await held.finish()
    assert await contents(store, "s") == ["first", "re: first", "second", "re: second"]
