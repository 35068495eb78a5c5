"""One turn on a PostgreSQL session, and the per-process cache that makes it cheap.

A turn holds, for its whole length, a pool connection with an open transaction that has taken
the session's advisory lock (``pg_advisory_xact_lock``) and its row lock: turns on one session
are serialized across processes, and each one sees the turn before it. Within one process an
``asyncio.Lock`` per session queues turns before they take a connection.

The cache keeps, per recent session, the tail of its messages with the ``epoch`` and ``seq``
they end at. Opening a turn is one call, ``vel_open_turn`` (migration 0002): lock, read the
row, read the messages after the cached seq, so a warm process reads only what other
processes appended since. When the copy is missing or stale (another epoch, older messages
it lacks) it reads again from the start, bounded by the window. The commit is one statement
plus ``COMMIT``, sent together: two round trips per turn in all.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..messages import Message
from . import pg_sql as q
from .base import UNCHANGED
from .pg_plan import LockedRow, plan_append

if TYPE_CHECKING:
    from .postgres import PostgresStore

Key = tuple[str, str]


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
        self._conn: Any = None
        self._row = LockedRow()
        self._tail: list[Message] = []
        self._done = False
        self.history: list[Message] = []
        self.summary: str | None = None

    async def __aenter__(self) -> PostgresTurn:
        store = self._store
        await store._local_locks.acquire(self._key)
        try:
            await self._start()
        except BaseException:
            await self._release()
            raise
        return self

    async def _start(self) -> None:
        store, key = self._store, self._key
        cached = store._cache.take(key)  # back in the cache only once it is valid again
        after = cached.seq if cached is not None else 0
        params = {
            **self._params,
            "lock": q.lock_key(*key),
            "after": after,
            "window": self._window,
        }
        self._conn, results = await store._start_transaction([q.BEGIN, (q.OPEN_TURN, params)])
        row = self._row = LockedRow.parse(results[1])
        if not row.live:
            return
        fresh: list[Message] = results[1][0][6]
        tail = merge_tail(cached, fresh, row, self._window) if cached else fresh
        if tail is None:  # the copy was stale: read again from the start (bounded)
            (rows,) = await store._run(self._conn, [(q.OPEN_TURN, {**params, "after": 0})])
            tail = rows[0][6]
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
        store = self._store
        messages = [dict(m) for m in new_messages]
        dumped = q.dump_messages(messages, "new_messages")  # before any write
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
        )
        store._cache.take(self._key)
        results = await store._run(self._conn, plan.statements)
        self._done = True
        tail = self._tail
        tail.extend(plan.appended)
        bound = plan.base if self._window is None else max(plan.base, plan.seq - self._window)
        if trim_to(tail, plan.seq, bound) is not None:
            epoch = results[plan.epoch_at][0][0]
            store._cache.put(self._key, CachedTail(epoch, plan.seq, tail))
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
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                await self._store._end_transaction(conn, rollback=not self._done)
        finally:
            self._store._local_locks.release(self._key)


class KeyedLocks:
    """An ``asyncio.Lock`` per key that exists only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._slots: dict[Key, tuple[asyncio.Lock, list[int]]] = {}

    async def acquire(self, key: Key) -> None:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = (asyncio.Lock(), [0])
        slot[1][0] += 1
        try:
            await slot[0].acquire()
        except BaseException:
            self._forget(key, slot)
            raise

    def release(self, key: Key) -> None:
        slot = self._slots[key]
        slot[0].release()
        self._forget(key, slot)

    def _forget(self, key: Key, slot: tuple[asyncio.Lock, list[int]]) -> None:
        slot[1][0] -= 1
        if slot[1][0] == 0:
            self._slots.pop(key, None)
