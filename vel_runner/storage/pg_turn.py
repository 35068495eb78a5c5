"""One turn on a PostgreSQL session, and the per-process cache that makes it cheap.

A turn locks its session with a session-level advisory lock taken on one of the process's
turn connections (:mod:`.pg_turn_connections`) and keeps it until its write: turns on one
session are serialized across processes, and each one sees the turn before it. While the
model answers the turn holds no connection and no transaction, so a slow model neither ties
up the pool nor leaves a transaction open. Within one process an ``asyncio.Lock`` per session
queues turns first; when another process's turn holds the session, the turn waits in
PostgreSQL's lock queue on a pool connection of its own (first come, first served).

The cache keeps, per recent session, the tail of its messages with the ``epoch`` and ``seq``
they end at. Opening a turn is one call, ``vel_begin_turn`` (migration 0003): lock, read the
row, read the messages after the cached seq, so a warm process reads only what other
processes appended since. When the copy is missing or stale (another epoch, older messages
it lacks) it reads again from the start, bounded by the window. The write is one statement,
sent with ``BEGIN``, ``COMMIT`` and the unlock: two round trips per turn in all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import SessionConflictError
from ..messages import Message
from . import pg_sql as q
from .base import UNCHANGED
from .pg_plan import LockedRow, plan_append
from .pg_turn_connections import WaitingConnection

if TYPE_CHECKING:
    from .pg_turn_connections import TurnConnection
    from .postgres import PostgresStore

Key = tuple[str, str]
T = TypeVar("T")


@dataclass(slots=True)
class CachedTail:
    """The last messages of a session: non-pinned ones with seqs ``(seq - len, seq]``."""

    epoch: int
    seq: int
    messages: list[Message]


class SessionCache:
    """A small LRU of session tails, bounded by sessions and by messages held."""

    def __init__(self, max_sessions: int = 1024, max_messages: int = 200_000) -> None:
        self.max_sessions = max_sessions
        self.max_messages = max_messages
        self._entries: OrderedDict[Key, CachedTail] = OrderedDict()
        self._held = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: Key, entry: CachedTail) -> None:
        self.drop(key)
        if self.max_sessions <= 0 or len(entry.messages) > self.max_messages:
            return
        self._entries[key] = entry
        self._held += len(entry.messages)
        while len(self._entries) > self.max_sessions or self._held > self.max_messages:
            _, evicted = self._entries.popitem(last=False)
            self._held -= len(evicted.messages)

    def take(self, key: Key) -> CachedTail | None:
        """Remove and return the entry (a turn owns it until it puts it back)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._held -= len(entry.messages)
        return entry

    def drop(self, key: Key) -> None:
        self.take(key)

    def clear(self) -> None:
        self._entries.clear()
        self._held = 0


def live_bound(row: LockedRow, window: int | None) -> int:
    """The seq above which a turn needs the messages (window applied)."""
    return row.base if window is None else max(row.base, row.seq - window)


def merge_tail(
    cached: CachedTail, fresh: list[Message], row: LockedRow, window: int | None
) -> list[Message] | None:
    """The tail a turn needs: the cached copy (reused in place) plus ``fresh``, the messages
    read after its seq; ``None`` when the copy cannot give it (another epoch, older messages
    it lacks)."""
    if cached.epoch != row.epoch or cached.seq > row.seq:
        return None
    messages = cached.messages
    if row.seq - len(fresh) == cached.seq:
        messages.extend(fresh)
    else:  # the read started above the copy (a window or a trim): the copy is not needed
        messages = fresh
    return trim_to(messages, row.seq, live_bound(row, window))


def trim_to(messages: list[Message], seq: int, bound: int) -> list[Message] | None:
    """Drop (in place) the messages at or below seq ``bound`` from a tail ending at ``seq``;
    ``None`` if the tail does not reach down to ``bound``."""
    start = seq - len(messages)
    if start > bound:
        return None
    if bound > start:
        del messages[: bound - start]
    return messages


class PostgresTurn:
    """One turn's hold on a database session (see :class:`~vel_runner.storage.base.SessionTurn`)."""

    def __init__(self, store: PostgresStore, key: Key, window: int | None) -> None:
        self._store = store
        self._key = key
        self._params = {"a": key[0], "s": key[1]}
        self._window = window
        self._lane: TurnConnection | WaitingConnection | None = None
        self._generation = 0  # of the turn connection when the lock was taken
        self._locked = False
        self._row = LockedRow()
        self._tail: list[Message] = []
        self._done = False
        self.history: list[Message] = []
        self.summary: str | None = None

    async def __aenter__(self) -> PostgresTurn:
        store = self._store
        await store._local_locks.acquire(self._key)
        try:
            if store._pool is None:
                await store.open()
            self._lane = store._turn_connections.for_session(self._key)
            await self._start()
        except BaseException:
            await self._release()
            raise
        return self

    async def _begin(self, params: dict[str, Any]) -> q.Rows:
        """Lock the session and read it (``READ_TURN``'s rows: none if it does not exist):
        at once on the shared turn connection when the session is free (nearly always),
        else after waiting in PostgreSQL's lock queue."""
        rows = await _settled(self._try_lock(params))
        if rows is not None:
            return rows
        store = self._store
        waiting = self._lane = WaitingConnection(store._getconn, store._putconn)
        await waiting.run([(q.WAIT_LOCK, params)])  # cancelled: the connection is closed
        self._generation, self._locked = waiting.generation, True
        return await self._read(params)

    async def _try_lock(self, params: dict[str, Any]) -> q.Rows | None:
        """One attempt; records the lock itself, so a cancelled caller still releases it.
        ``None``: another process's turn holds the session."""
        assert self._lane is not None
        generation, (rows,) = await self._lane.run([(q.BEGIN_TURN, params)], retry=True)
        locked, *session = rows[0]
        if not locked:
            return None
        self._generation, self._locked = generation, True
        return [tuple(session)] if session[0] is not None else []

    async def _read(self, params: dict[str, Any]) -> q.Rows:
        assert self._lane is not None
        _, (rows,) = await _settled(self._lane.run([(q.READ_TURN, params)], retry=True))
        return rows

    async def _write(self, statements: list[q.Statement], written_at: int) -> q.Rows:
        assert self._lane is not None
        _, results = await self._lane.run(statements)
        self._locked = False  # the unlock went with the write (or the lock was already gone)
        self._done = True
        return results[written_at]

    async def _start(self) -> None:
        store, key = self._store, self._key
        cached = store._cache.take(key)  # back in the cache only once it is valid again
        after = cached.seq if cached is not None else 0
        params = {**self._params, "after": after, "window": self._window}
        rows = await self._begin(params)
        row = self._row = LockedRow.parse(rows)
        if not row.live:
            return
        fresh: list[Message] = rows[0][6]
        tail = merge_tail(cached, fresh, row, self._window) if cached else fresh
        if tail is None:  # the copy was stale: read again from the start (bounded)
            again = await self._read({**params, "after": 0})
            tail = again[0][6] if again else []  # gone: the write's guards will say so
        self._tail = tail
        store._cache.put(key, CachedTail(row.epoch, row.seq, tail))
        self.history = row.pinned + tail if row.pinned else tail[:]
        self.summary = row.summary

    async def commit(
        self,
        new_messages: Sequence[Message],
        *,
        keep: int | None = None,
        summary: str | None = UNCHANGED,
        ttl: float | None = None,
    ) -> None:
        if self._done:
            raise RuntimeError("this turn has already committed")
        store, lane = self._store, self._lane
        assert lane is not None
        messages = [dict(m) for m in new_messages]
        dumped = q.dump_messages(messages, "new_messages")  # before any write
        lost_lock = lane.generation != self._generation  # its connection was replaced
        plan = plan_append(
            self._params,
            self._row,
            messages,
            dumped,
            keep=keep,
            summary=summary,
            ttl=ttl,
            origin=store._origin,
            notify=store.notify,
            relock=lost_lock,
            unlock=not lost_lock,
        )
        store._cache.take(self._key)
        try:
            written = await _settled(self._write(plan.statements, plan.epoch_at))
        except BaseException:
            await self._unlock()
            raise
        if not written:
            raise SessionConflictError(
                f"session {self._key[1]!r} of agent {self._key[0]!r} was changed while this "
                "turn ran, by a writer that ignores the session lock (a DELETE in SQL, say); "
                "nothing was stored"
            )
        tail = self._tail
        tail.extend(plan.appended)
        bound = plan.base if self._window is None else max(plan.base, plan.seq - self._window)
        if trim_to(tail, plan.seq, bound) is not None:
            store._cache.put(self._key, CachedTail(written[0][0], plan.seq, tail))
        if plan.expired:
            store._emit("expired", self._key, 0)
        store._emit(plan.kind, self._key, plan.message_count)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._release()

    async def _release(self) -> None:
        try:
            await self._unlock()
        finally:
            try:
                if isinstance(self._lane, WaitingConnection):
                    await self._lane.discard()  # never back to the pool with a lock on it
            finally:
                self._store._local_locks.release(self._key)

    async def _unlock(self) -> None:
        """End the turn's lock on its session if it still holds it (a failed turn, or one
        left without a commit). Never interrupted halfway: a lock left behind would stall
        the session for every other process."""
        lane = self._lane
        if not self._locked or lane is None:
            return
        self._locked = False
        if lane.generation != self._generation:
            return  # its connection, and the lock with it, is already gone
        with contextlib.suppress(Exception):
            await _settled(lane.run([(q.UNLOCK, self._params)]))


async def _settled(operation: Awaitable[T]) -> T:
    """Await ``operation`` to its end even if the caller is cancelled meanwhile (then
    re-raise the cancellation): a statement cut off halfway would leave the turn not knowing
    whether it holds its lock or whether its write happened."""
    task = asyncio.ensure_future(operation)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise
