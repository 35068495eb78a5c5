"""The turn engine of the PostgreSQL store: how one turn on a database session runs.

How a turn works (``async with store.turn(a, s) as turn: ...; await turn.commit(new)``)::

    enter   1. queue behind this process's turns on the session    KeyedLocks (asyncio)
            2. take the session's cached tail, if any               SessionCache (pg_cache)
            3. vel_begin_turn on the session's turn connection:     TurnConnections
               try its advisory lock, read the row and the messages after the cached seq
            4. held by another process? wait in PostgreSQL's        WaitingConnection
               lock queue on a pool connection, then READ_TURN      (Pool)
            5. join cached copy + fresh rows (stale: re-read), put the tail back in the
               cache; ``history`` = pinned + tail. No connection or transaction is held
               while the model answers.
    commit  6. plan_write: BEGIN, one write statement guarded by the row as read, COMMIT
               and the unlock, in one round trip; the row changed under the turn:
               SessionConflictError, nothing stored. Cache updated, events emitted.
    exit    7. unlock if still locked (a failed turn), give a waiting connection back to
               the pool, release the asyncio lock.

A connection replaced mid-turn (a server restart) has a new ``generation``: the turn's lock
went with the old one, so the write re-takes it inside its own transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

from ..errors import SessionConflictError
from ..messages import Message
from ..model_view import HistoryView
from . import pg_sql as q
from .base import UNCHANGED, TokenCounts
from .keyed_locks import KeyedLocks
from .pg_cache import CachedTail, Key, SessionCache, merge_tail, trim_to, view_of
from .pg_plan import LockedRow, Plan, dump_messages, plan_write
from .pg_pool import Pool
from .pg_run import Rows
from .pg_turn_connections import TurnConnection, TurnConnections, WaitingConnection

T = TypeVar("T")
OnWrite = Callable[[Key, Plan], None]


class TurnEngine:
    """Runs the turns of one store; owns the per-session locks, the tail cache, the turn
    connections and the turns' access to the pool.

    ``open_store`` opens the store on first use (migrations, pool); ``on_write`` hears of
    each committed write (the store tells its listeners).
    """

    def __init__(
        self,
        pool: Pool,
        dsn: Callable[[], str],
        *,
        open_store: Callable[[], Awaitable[None]],
        on_write: OnWrite,
        origin: str,
        notify: bool = True,
        timeout: float = 5.0,
        turn_connections: int = 2,
        cache_sessions: int = 1024,
        cache_messages: int = 200_000,
    ) -> None:
        self.origin, self.notify = origin, notify
        self._pool = pool
        self._open_store = open_store
        self._on_write = on_write
        self._locks = KeyedLocks()
        self._cache = SessionCache(cache_sessions, cache_messages)
        self._lanes = TurnConnections(dsn, timeout, turn_connections)

    def turn(self, key: Key, window: int | None) -> PostgresTurn:
        return PostgresTurn(self, key, window)

    def forget(self, key: Key) -> None:
        """Drop the cached copy of a session that was replaced, cleared or deleted."""
        self._cache.drop(key)

    async def close(self) -> None:
        await self._lanes.close()
        self._cache.clear()

    # -- what its turns use ------------------------------------------------------------------
    async def enter(self, key: Key) -> TurnConnection:
        """Wait for this process's earlier turns on the session; its turn connection."""
        await self._locks.acquire(key)
        try:
            await self._open_store()
            return self._lanes.for_session(key)
        except BaseException:
            self._locks.release(key)
            raise

    def leave(self, key: Key) -> None:
        self._locks.release(key)

    def waiting_connection(self) -> WaitingConnection:
        return WaitingConnection(self._pool)

    def take_cached(self, key: Key) -> CachedTail | None:
        """The session's cached tail, out of the cache until the turn puts a valid one back."""
        return self._cache.take(key)

    def keep(self, key: Key, entry: CachedTail) -> None:
        self._cache.put(key, entry)

    def committed(self, key: Key, plan: Plan) -> None:
        self._on_write(key, plan)


class PostgresTurn:
    """One turn's hold on a database session (see :class:`~vel_runner.storage.base.SessionTurn`)."""

    def __init__(self, engine: TurnEngine, key: Key, window: int | None) -> None:
        self._engine = engine
        self._key = key
        self._params = {"a": key[0], "s": key[1]}
        self._window = window
        self._lane: TurnConnection | WaitingConnection | None = None
        self._generation = 0  # of the turn connection when the lock was taken
        self._locked = False
        self._row = LockedRow()
        self._tail: list[Message] = []
        self._tail_view: HistoryView | None = None
        self._done = False
        self.history: list[Message] = []
        self.summary: str | None = None
        #: The model's view of ``history`` (full-history turns; see :mod:`..model_view`).
        self.view: HistoryView | None = None

    async def __aenter__(self) -> PostgresTurn:
        self._lane = await self._engine.enter(self._key)
        try:
            await self._start()
        except BaseException:
            await self._release()
            raise
        return self

    async def _begin(self, params: dict[str, Any]) -> Rows:
        """Lock the session and read it (``READ_TURN``'s rows: none if it does not exist):
        at once on the shared turn connection when the session is free (nearly always),
        else after waiting in PostgreSQL's lock queue."""
        rows = await _settled(self._try_lock(params))
        if rows is not None:
            return rows
        waiting = self._lane = self._engine.waiting_connection()
        await waiting.wait_for_lock(params)  # cancelled: _release drops what it may hold
        self._generation, self._locked = waiting.generation, True
        return await self._read(params)

    async def _try_lock(self, params: dict[str, Any]) -> Rows | None:
        """One attempt; records the lock itself, so a cancelled caller still releases it.
        ``None``: another process's turn holds the session."""
        assert self._lane is not None
        generation, (rows,) = await self._lane.run([(q.BEGIN_TURN, params)], retry=True)
        locked, *session = rows[0]
        if not locked:
            return None
        self._generation, self._locked = generation, True
        return [tuple(session)] if session[0] is not None else []

    async def _read(self, params: dict[str, Any]) -> Rows:
        assert self._lane is not None
        _, (rows,) = await _settled(self._lane.run([(q.READ_TURN, params)], retry=True))
        return rows

    async def _write(self, statements: list[q.Statement], written_at: int) -> Rows:
        assert self._lane is not None
        _, results = await self._lane.run(statements)
        self._locked = False  # the unlock went with the write (or the lock was already gone)
        self._done = True
        return results[written_at]

    async def _start(self) -> None:
        engine, key = self._engine, self._key
        cached = engine.take_cached(key)  # back in the cache only once it is valid again
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
        view = None
        if self._window is None:  # a window's tail is short: the turn builds its own view
            view = self._tail_view = view_of(cached, tail)
            self.view = view.after(row.pinned) if row.pinned else view
        engine.keep(key, CachedTail(row.epoch, row.seq, tail, view))
        self.history = row.pinned + tail if row.pinned else tail[:]
        self.summary = row.summary

    async def commit(
        self,
        new_messages: Sequence[Message],
        *,
        keep: int | None = None,
        summary: str | None = UNCHANGED,
        ttl: float | None = None,
        usage: TokenCounts = (0, 0),
    ) -> None:
        if self._done:
            raise RuntimeError("this turn has already committed")
        engine, lane = self._engine, self._lane
        assert lane is not None
        messages = [dict(m) for m in new_messages]
        dumped = dump_messages(messages, "new_messages")  # before any write
        lost_lock = lane.generation != self._generation  # its connection was replaced
        plan = plan_write(
            self._params,
            self._row,
            messages,
            dumped,
            origin=engine.origin,
            notify=engine.notify,
            keep=keep,
            summary=summary,
            ttl=ttl,
            relock=lost_lock,
            unlock=not lost_lock,
            usage=usage,
        )
        engine.take_cached(self._key)
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
        tail, view = self._tail, self._tail_view
        if view is not None and not view.mirrors(tail):
            view = None
        tail.extend(plan.appended)
        if view is not None:
            view.extend(plan.appended)
        held = len(tail)
        bound = plan.base if self._window is None else max(plan.base, plan.seq - self._window)
        if trim_to(tail, plan.seq, bound) is not None:
            if len(tail) != held:  # trimmed: the view no longer mirrors the tail
                view = None
            engine.keep(self._key, CachedTail(written[0][0], plan.seq, tail, view))
        engine.committed(self._key, plan)

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
                    await self._lane.release(unlocked=self._done)  # never with a lock on it
            finally:
                self._engine.leave(self._key)

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
