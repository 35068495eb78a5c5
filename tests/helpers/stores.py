"""Both session stores for the tests that hold them to the same guarantees: the memory store
and a real PostgreSQL (a fresh database per test)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest

from vel_runner.storage import SessionStore, create_store

from .waiting import wait_until

STORE_KINDS = ["memory", "database"]


def msg(role: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    """A chat message, with an ``id`` when one is given."""
    message: dict[str, Any] = {"role": role, "content": text}
    if message_id is not None:
        message["id"] = message_id
    return message


@asynccontextmanager
async def opened_store(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    """An open store of ``kind`` (``database``: on the test's fresh PostgreSQL database)."""
    if kind == "memory":
        store = create_store("memory")
    else:
        dsn = request.getfixturevalue("fresh_postgres_dsn")
        store = create_store("database", dsn=dsn, max_size=4, timeout=5.0)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


class HeldTurn:
    """A turn that holds its session until the test says so: what a model still answering
    looks like to the store, without guessing how long the test needs it.

    ``await HeldTurn(store, "s").entered()`` returns once the turn holds the session (and read
    ``history``); ``await held.finish()`` lets it commit ``text`` and its answer, and returns
    when it has.
    """

    def __init__(
        self,
        store: SessionStore,
        session_id: str,
        text: str = "hi",
        *,
        ttl: float | None = None,
        agent: str = "a",
    ) -> None:
        self.history: list[dict[str, Any]] = []
        self._inside = asyncio.Event()
        self._gate = asyncio.Event()
        self.task = asyncio.create_task(self._run(store, agent, session_id, text, ttl))

    async def _run(
        self, store: SessionStore, agent: str, session_id: str, text: str, ttl: float | None
    ) -> None:
        async with store.turn(agent, session_id) as turn:
            self.history = list(turn.history)
            self._inside.set()
            await self._gate.wait()
            await turn.commit([msg("user", text), msg("assistant", f"re: {text}")], ttl=ttl)

    async def entered(self) -> HeldTurn:
        """Once the turn holds its session (fails if the turn failed first)."""
        inside = asyncio.ensure_future(self._inside.wait())
        await asyncio.wait([inside, self.task], return_when=asyncio.FIRST_COMPLETED)
        if not inside.done():
            inside.cancel()
            self.task.result()  # the turn's own error
            raise AssertionError("the turn ended before it held its session")
        return self

    async def finish(self) -> None:
        """Let the turn commit; return once it has."""
        self._gate.set()
        await self.task


async def waiting_for_the_session(store: SessionStore, task: asyncio.Task[Any]) -> None:
    """Return once ``task`` (a clear, a set, another turn) waits for a session a
    :class:`HeldTurn` holds: in PostgreSQL, a lock request the server has not granted; in
    memory, a task that ran as far as it could and is not done (the store has no I/O: only
    the session's lock can stop it)."""
    if store.kind == "database":
        dsn = store.dsn  # type: ignore[attr-defined]  # the database store's, not the protocol's

        async def ungranted() -> bool:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                cursor = await conn.execute(UNGRANTED_LOCKS)
                row = await cursor.fetchone()
            return bool(row and row[0]) or task.done()

        await wait_until(ungranted, what="the operation to wait for the session's lock")
    else:
        for _ in range(5):  # a few passes of the loop: far more than the store's own awaits
            await asyncio.sleep(0)
    assert not task.done(), f"{task} did not wait for the turn in flight"


#: Lock requests in this database that PostgreSQL has not granted (someone waits for them).
UNGRANTED_LOCKS = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE NOT l.granted AND d.datname = current_database()"
)


async def events_settled(store: SessionStore, events: list[Any]) -> None:
    """Return once ``events`` (from ``store.add_listener``) holds every event the changes made
    so far can bring, and nothing of the probe used to know it.

    The memory store's events are synchronous. The database store's come directly for its own
    changes and through NOTIFY for other processes'; PostgreSQL delivers notifications in
    commit order, so once a change committed now by another store (another process, as far as
    the database knows) has arrived, an echo of an earlier change would have too.
    """
    if store.kind != "database":
        return
    # a NOTIFY committed before the store LISTENs never arrives: the probe waits for that
    assert await store.hearing_others(), "the store never started listening"  # type: ignore[attr-defined]
    other = create_store("database", dsn=store.dsn)  # type: ignore[attr-defined]
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    try:
        await other.set("a", probe, [msg("user", "probe")])
        await other.clear("a", probe)
        await wait_until(
            lambda: any(e.session_id == probe and e.kind == "cleared" for e in events),
            what="another process's change to arrive",
        )
    finally:
        await other.close()
    events[:] = [e for e in events if e.session_id != probe]
