"""``store.edit``: a history edit applied inside the session's turn lock, from what is stored
at that moment, in one write — the same from the memory store and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers.stores import STORE_KINDS, msg, opened_store, waiting_for_the_session
from helpers.waiting import wait_until

from vel_runner import Agent
from vel_runner.errors import InvalidInputError
from vel_runner.messages import Message
from vel_runner.storage import SessionEvent, SessionStore


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    async with opened_store(request.param, request) as opened:
        yield opened


async def exchange(store: SessionStore, sid: str, n: int, **commit: Any) -> None:
    async with store.turn("a", sid) as turn:
        new = [msg("user", f"q{n}", f"u{n}"), msg("assistant", f"a{n}", f"r{n}")]
        await turn.commit(new, **commit)


async def contents(store: SessionStore, sid: str) -> list[str] | None:
    record = await store.get("a", sid)
    return None if record is None else [m["content"] for m in record.messages]


def without(message_id: str) -> Any:
    def change(messages: list[Message]) -> list[Message]:
        return [m for m in messages if m.get("id") != message_id]

    return change


async def test_an_edit_replaces_the_messages_and_keeps_the_rest_of_the_session(
    store: SessionStore,
) -> None:
    await store.set("a", "s", [msg("system", "be brief")])
    await exchange(store, "s", 1, usage=(10, 5))
    await exchange(store, "s", 2, usage=(1, 1))
    events: list[SessionEvent] = []
    store.add_listener(events.append)
    kept = await store.edit("a", "s", without("r1"), ttl=60)
    assert [m["content"] for m in kept or []] == ["be brief", "q1", "q2", "a2"]
    assert await contents(store, "s") == ["be brief", "q1", "q2", "a2"]
    record = await store.get("a", "s")
    assert record is not None
    assert (record.input_tokens, record.output_tokens, record.turns) == (11, 6, 2)
    assert record.expires_at is not None  # ttl as set gives it
    await wait_until(lambda: events, what="the edit's event")
    assert [(e.kind, e.message_count) for e in events] == [("updated", 4)]
    async with store.turn("a", "s", window=2) as turn:  # a turn after it reads the edit
        assert [m["content"] for m in turn.history] == ["be brief", "q2", "a2"]


async def test_an_edit_keeps_the_summary(store: SessionStore) -> None:
    async with store.turn("a", "s") as turn:
        await turn.commit([msg("user", "q"), msg("assistant", "a")], summary="so far")
    await store.edit("a", "s", lambda messages: messages[1:])
    record = await store.get("a", "s")
    assert record is not None and record.summary == "so far"
    assert [m["content"] for m in record.messages] == ["a"]


async def test_an_edit_of_a_missing_session_does_not_call_the_change(
    store: SessionStore,
) -> None:
    calls: list[object] = []
    assert await store.edit("a", "nobody", calls.append) is None  # type: ignore[arg-type]
    assert calls == []
    assert await store.get("a", "nobody") is None


async def test_a_change_that_raises_stores_nothing_and_frees_the_session(
    store: SessionStore,
) -> None:
    await exchange(store, "s", 1)

    def refuse(messages: list[Message]) -> list[Message]:
        raise LookupError("no such response")

    with pytest.raises(LookupError):
        await store.edit("a", "s", refuse)
    assert await contents(store, "s") == ["q1", "a1"]
    await asyncio.wait_for(exchange(store, "s", 2), 5)  # the lock went with the failure
    assert await contents(store, "s") == ["q1", "a1", "q2", "a2"]


async def test_an_edit_that_changes_nothing_writes_nothing(store: SessionStore) -> None:
    await exchange(store, "s", 1)
    before = await store.get("a", "s")
    assert await store.edit("a", "s", lambda messages: messages) == [
        msg("user", "q1", "u1"),
        msg("assistant", "a1", "r1"),
    ]
    after = await store.get("a", "s")
    assert before is not None and after is not None
    assert after.updated_at == before.updated_at


async def test_an_edit_waits_for_the_turn_in_flight_and_sees_what_it_stored(
    store: SessionStore,
) -> None:
    await exchange(store, "s", 1)
    holding, release = asyncio.Event(), asyncio.Event()
    seen: list[list[str]] = []

    async def turn() -> None:
        async with store.turn("a", "s") as held:
            holding.set()
            await release.wait()  # the model answering
            await held.commit([msg("user", "q2", "u2"), msg("assistant", "a2", "r2")])

    def change(messages: list[Message]) -> list[Message]:
        seen.append([m["content"] for m in messages])
        return without("r1")(messages)

    running = asyncio.create_task(turn())
    await holding.wait()
    editing = asyncio.create_task(store.edit("a", "s", change))
    await waiting_for_the_session(store, editing)  # the edit is queued behind the turn...
    assert seen == [] and not editing.done()  # ...and has not read anything yet
    release.set()
    await running
    await editing
    assert seen == [["q1", "a1", "q2", "a2"]]
    assert await contents(store, "s") == ["q1", "q2", "a2"]


async def test_concurrent_edits_apply_one_after_the_other(store: SessionStore) -> None:
    """Three clients delete the same message at once (a retry): it goes once, nothing else
    goes, nothing is duplicated — 30 times over."""
    for trial in range(30):
        sid = f"s{trial}"
        for n in range(3):
            await exchange(store, sid, n)
        removed: list[bool] = []

        def drop_r1(messages: list[Message], removed: list[bool] = removed) -> list[Message]:
            kept = without("r1")(messages)
            removed.append(len(kept) < len(messages))
            return kept

        await asyncio.gather(*(store.edit("a", sid, drop_r1) for _ in range(3)))
        assert sorted(removed) == [False, False, True], trial
        assert await contents(store, sid) == ["q0", "a0", "q1", "q2", "a2"], trial


async def test_the_library_edit_checks_what_the_change_returns(store: SessionStore) -> None:
    agent = Agent("a", {"provider": "echo", "model": "e"}, session_storage=store, ttl=60)
    await exchange(store, "s", 1)
    with pytest.raises(InvalidInputError, match=r"messages\[0\].content contains a NUL"):
        await agent.ctxmgr.aedit_session("s", lambda stored: [msg("user", "bad \x00")])
    assert await contents(store, "s") == ["q1", "a1"]
    kept = await agent.ctxmgr.aedit_session("s", lambda stored: stored[:1])
    assert kept == [msg("user", "q1", "u1")]
    assert await agent.ctxmgr.aget_session_context("s") == kept
    assert await agent.ctxmgr.aedit_session("nobody", lambda stored: []) is None
    with pytest.raises(InvalidInputError, match="session_id"):
        await agent.ctxmgr.aedit_session(" padded", lambda stored: stored)
