"""The few long-lived connections on which a process's turns lock their sessions.

A turn locks its session with a session-level advisory lock (``vel_begin_turn``), which
belongs to the connection that took it, and must unlock on that same connection. So each
session maps to one of a handful of connections (by a hash of its key), shared by every turn
of the process; the model call in between holds no connection at all. One batch of
statements (one network round trip) runs at a time on a connection.

When another process's turn holds the session, the turn waits in PostgreSQL's own lock queue
instead (:class:`WaitingConnection`, a pool connection kept for that one turn and given back
after it): first come, first served, and a process that holds a session cannot take it again
while another waits.

A connection that breaks (a server restart) loses its locks. It is replaced on next use with a
new ``generation``; a turn that locked on the old one knows its lock is gone and re-takes it
inside its write's transaction (whose guards also reject a session changed meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq

from ..redact import store_unavailable
from . import pg_sql as q
from .pg_pool import Pool
from .pg_run import Rows, run_async


class TurnConnection:
    """One autocommit connection, connected lazily, replaced when broken."""

    def __init__(self, dsn: Callable[[], str], timeout: float) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._busy = asyncio.Lock()
        #: Counts the connections made: a lock taken under an older number is gone.
        self.generation = 0

    async def run(
        self, statements: list[q.Statement], *, retry: bool = False
    ) -> tuple[int, list[Rows]]:
        """Run ``statements`` in one pipeline; ``(generation, rows of each)``.

        Errors become :class:`~vel_runner.errors.StoreUnavailableError` (no password). A
        failed transaction is rolled back before the connection serves anyone else. With
        ``retry`` (statements that are safe to send twice), a connection found dead (the
        server restarted since its last use) is replaced and the statements sent again once,
        so the first turn after an outage works.
        """
        async with self._busy:
            for attempt in (1, 2):
                conn = await self._connected()
                try:
                    return self.generation, await run_async(conn, statements)
                except psycopg.Error as exc:
                    dead = conn.broken or conn.closed
                    await self._recover(conn)
                    if not (retry and dead and attempt == 1):
                        raise store_unavailable(self._dsn(), exc) from None
                except BaseException:  # cancelled mid-pipeline: the protocol state is unknown
                    self._conn = None
                    with contextlib.suppress(Exception):
                        await conn.close()
                    raise
            raise AssertionError("unreachable")

    async def _connected(self) -> psycopg.AsyncConnection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            dsn = self._dsn()
            try:
                conn = await psycopg.AsyncConnection.connect(
                    dsn, autocommit=True, connect_timeout=max(1, round(self._timeout))
                )
                # key lookups only: plan once per statement, not on every execution
                await conn.execute("SET plan_cache_mode = force_generic_plan")
            except psycopg.Error as exc:
                raise store_unavailable(dsn, exc) from None
            self._conn = conn
            self.generation += 1
        return conn

    async def _recover(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if conn.broken or conn.closed:
            self._conn = None
            return
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                await conn.rollback()
            except psycopg.Error:
                self._conn = None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


class WaitingConnection:
    """A pool connection that waits for a busy session's lock and holds it for one turn.

    :meth:`release` gives it back to the pool without any session lock on it: the turn's
    write carries the unlock; after anything else (a failed turn, a turn cancelled while it
    waited, when the lock may have been granted all the same) it drops every advisory lock
    the connection holds first. The pool keeps the connection: no new login per waited turn.
    ``retry`` is accepted for the shared interface and ignored: this connection cannot be
    swapped without losing the lock it holds.
    """

    generation = 1  # one connection for the whole turn: a lock never moves

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._stack: contextlib.AsyncExitStack | None = None
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _connected(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None:
            stack = self._stack = contextlib.AsyncExitStack()
            self._conn = await stack.enter_async_context(self._pool.connection())
        return self._conn

    async def wait_for_lock(self, params: dict[str, Any]) -> None:
        """Queue in PostgreSQL for the session's lock (first come, first served).

        Not pipelined: a cancelled wait is cancelled in the server too (psycopg does that)
        and leaves the connection usable."""
        conn = await self._connected()
        try:
            await conn.execute(q.WAIT_LOCK, params)
        except psycopg.Error as exc:
            raise store_unavailable(str(conn.info.dsn), exc) from None

    async def run(
        self, statements: list[q.Statement], *, retry: bool = False
    ) -> tuple[int, list[Rows]]:
        conn = await self._connected()
        try:
            return self.generation, await run_async(conn, statements)
        except psycopg.Error as exc:
            raise store_unavailable(str(conn.info.dsn), exc) from None

    async def release(self, *, unlocked: bool = False) -> None:
        """Back to the pool; ``unlocked``: the turn's write ended its lock already."""
        stack, conn = self._stack, self._conn
        self._stack = self._conn = None
        if stack is None or conn is None:
            return
        try:
            if not unlocked:
                await _drop_locks(conn)
        except BaseException as exc:  # a lock must not go back to the pool: close instead
            with contextlib.suppress(Exception):
                await conn.close()
            if not isinstance(exc, Exception):
                raise
        finally:
            with contextlib.suppress(Exception):
                await stack.aclose()


async def _drop_locks(conn: psycopg.AsyncConnection[Any]) -> None:
    if conn.closed or conn.broken:
        return  # its locks went with it
    status = conn.info.transaction_status
    if status == pq.TransactionStatus.ACTIVE:
        raise RuntimeError("a statement is still running")
    if status != pq.TransactionStatus.IDLE:
        await conn.rollback()
    await conn.execute(q.UNLOCK_ALL)


class TurnConnections:
    """``count`` turn connections; a session always uses the same one in this process."""

    def __init__(self, dsn: Callable[[], str], timeout: float, count: int = 2) -> None:
        self._dsn, self._timeout, self._count = dsn, timeout, max(1, count)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: list[TurnConnection] = []

    def for_session(self, key: tuple[str, str]) -> TurnConnection:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: the old one's connections went with it
            self._loop = loop
            self._connections = [
                TurnConnection(self._dsn, self._timeout) for _ in range(self._count)
            ]
        return self._connections[hash(key) % self._count]

    async def close(self) -> None:
        connections, self._connections, self._loop = self._connections, [], None
        for connection in connections:
            await connection.close()
