"""The PostgreSQL session store (``session_storage='database'``): persistent and shared.

Async methods (``turn``, ``get``, ``set``, ``clear``, ``list``, ``delete_inactive``) use a
``psycopg_pool.AsyncConnectionPool`` created inside the running loop by ``open()``; they never
block the event loop. The ``*_sync`` twins (behind the spec's synchronous ``agent.ctxmgr``
methods) use one synchronous psycopg connection of their own, so they work from plain code and
from a thread that runs a loop; called on a loop's thread they block that loop for one round
trip, so async code should call the async methods.

Schema and migrations: ``migrations/*.sql``, applied on the first ``open()`` (see
:mod:`.pg_migrate`). Turns: :mod:`.pg_turn`. SQL: :mod:`.pg_sql`. Events: :mod:`.pg_events`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..errors import StoreUnavailableError
from ..listeners import Listeners
from ..messages import Message
from . import pg_sql as q
from .base import SessionEvent, SessionEventKind, SessionInfo, SessionListener, SessionRecord
from .keyed_locks import KeyedLocks
from .pg_events import NotifyRelay
from .pg_migrate import apply_migrations
from .pg_plan import (
    LockedRow,
    Plan,
    clear_statements,
    list_params,
    lock_statements,
    plan_replace,
    to_info,
    to_record,
)
from .pg_sync import SyncConnection
from .pg_turn import Key, PostgresTurn, SessionCache
from .pg_turn_connections import TurnConnections

log = logging.getLogger(__name__)

_DB_ERRORS = (psycopg.Error, PoolTimeout)
SessionInfos = list[SessionInfo]


class PostgresStore:
    """Sessions in PostgreSQL (``vel_sessions`` + ``vel_messages``), shared by processes.

    ``dsn`` defaults to ``$POSTGRES_DSN``. ``min_size``/``max_size``: size of the pool behind
    ``get``/``set``/``clear``/``list``/cleanup. Turns use ``turn_connections`` long-lived
    connections of their own (:mod:`.pg_turn_connections`) and hold none while the model
    answers. ``timeout``: seconds to wait for a connection before
    :class:`~vel_runner.errors.StoreUnavailableError`. ``cache_sessions``/``cache_messages``
    bound the per-process cache of recent sessions (0 disables it). ``migrate=False`` skips
    applying migrations on ``open()`` (for operators who run ``vel-runner migrate``).
    ``notify=False`` stops publishing changes to other processes.
    """

    kind = "database"

    def __init__(
        self,
        dsn: str | None = None,
        *,
        name: str = "database",
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        cache_sessions: int = 1024,
        cache_messages: int = 200_000,
        migrate: bool = True,
        notify: bool = True,
        max_idle: float = 600.0,
        turn_connections: int = 2,
    ) -> None:
        self.name = name
        self._dsn_arg = dsn
        self.min_size, self.max_size, self.timeout = min_size, max_size, timeout
        self.max_idle = max_idle
        self.migrate, self.notify = migrate, notify
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock: asyncio.Lock | None = None
        self._migrated = False
        self._origin = uuid.uuid4().hex
        self._cache = SessionCache(cache_sessions, cache_messages)
        self._local_locks = KeyedLocks()
        self._listeners: Listeners[SessionEvent] = Listeners()
        self._relay: NotifyRelay | None = None
        self._sync = SyncConnection(lambda: self.dsn, timeout, self._migrate_once)
        self._turn_connections = TurnConnections(lambda: self.dsn, timeout, turn_connections)

    def __repr__(self) -> str:
        where = q.describe_dsn(self._dsn_arg or os.environ.get("POSTGRES_DSN", ""))
        return f"PostgresStore(name={self.name!r}, {where})"

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def dsn(self) -> str:
        dsn = self._dsn_arg or os.environ.get("POSTGRES_DSN")
        if not dsn:
            raise StoreUnavailableError(
                "session_storage 'database' needs a PostgreSQL DSN: set the POSTGRES_DSN "
                "environment variable (postgresql://user:password@host:5432/dbname) or pass dsn="
            )
        return dsn

    async def open(self) -> None:
        """Apply migrations (once) and create the pool in the running loop. Idempotent."""
        if self._pool is not None:
            return
        self._open_lock = self._open_lock or asyncio.Lock()
        async with self._open_lock:
            if self._pool is not None:
                return
            dsn = self.dsn
            if self.migrate and not self._migrated:
                try:
                    await asyncio.to_thread(apply_migrations, dsn, connect_timeout=self.timeout)
                except psycopg.Error as exc:
                    raise q.unavailable(dsn, exc) from None
                self._migrated = True
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.timeout,
                max_idle=self.max_idle,
                kwargs={"autocommit": True, "connect_timeout": max(1, round(self.timeout))},
                name=f"vel-{self.name}",
                configure=_configure,
                open=False,
            )
            await pool.open(wait=False)
            self._pool = pool
            self._loop = asyncio.get_running_loop()
            if self._listeners:
                self._start_relay()

    async def close(self) -> None:
        """Stop the event relay, close the pool and the sync connection. Idempotent."""
        if self._relay is not None:
            await self._relay.stop()
            self._relay = None
        await self._turn_connections.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        self._sync.close()
        self._cache.clear()

    async def ping(self) -> None:
        async with self._connection() as conn:
            await q.run_async(conn, [("SELECT 1", None)])

    # -- async connection plumbing ---------------------------------------------------------
    async def _getconn(self) -> Any:
        if self._pool is None:
            await self.open()
        assert self._pool is not None
        try:
            return await self._pool.getconn()
        except _DB_ERRORS as exc:
            raise q.unavailable(self.dsn, exc) from None

    async def _putconn(self, conn: Any) -> None:
        if self._pool is not None:
            await self._pool.putconn(conn)
        else:
            await conn.close()

    def _connection(self) -> _PooledConnection:
        return _PooledConnection(self)

    async def _run(self, conn: Any, statements: list[q.Statement]) -> list[q.Rows]:
        try:
            return await q.run_async(conn, statements)
        except _DB_ERRORS as exc:
            raise q.unavailable(self.dsn, exc) from None

    async def _end_transaction(self, conn: Any, *, rollback: bool) -> None:
        if rollback and not conn.broken:
            with contextlib.suppress(*_DB_ERRORS):
                await conn.rollback()
        await self._putconn(conn)

    # -- turns ---------------------------------------------------------------------------
    def turn(self, agent_id: str, session_id: str, *, window: int | None = None) -> PostgresTurn:
        return PostgresTurn(self, (agent_id, session_id), window)

    # -- async operations ----------------------------------------------------------------
    async def get(self, agent_id: str, session_id: str) -> SessionRecord | None:
        async with self._connection() as conn:
            (rows,) = await self._run(conn, [(q.GET, {"a": agent_id, "s": session_id})])
        return to_record(agent_id, session_id, rows)

    async def set(
        self,
        agent_id: str,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: float | None = None,
    ) -> None:
        copies = [dict(m) for m in messages]
        dumped = q.dump_messages(copies)
        self._cache.drop((agent_id, session_id))
        async with self._connection() as conn:
            results = await self._run(conn, lock_statements(agent_id, session_id))
            plan = self._plan_replace(agent_id, session_id, results, copies, dumped, ttl)
            await self._run(conn, plan.statements)
        self._emit_plan(plan, (agent_id, session_id))

    def _plan_replace(
        self,
        agent_id: str,
        session_id: str,
        locked: list[q.Rows],
        messages: list[Message],
        dumped: list[str],
        ttl: float | None,
    ) -> Plan:
        row = LockedRow.parse(locked[2])
        key = {"a": agent_id, "s": session_id}
        return plan_replace(
            key, row, messages, dumped, ttl=ttl, origin=self._origin, notify=self.notify
        )

    async def clear(self, agent_id: str, session_id: str) -> bool:
        self._cache.drop((agent_id, session_id))
        async with self._connection() as conn:
            results = await self._run(conn, clear_statements(agent_id, session_id, self._origin))
        return self._emit_cleared(agent_id, session_id, results[2])

    async def list(
        self,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> SessionInfos:
        params = list_params(agent_id, inactive_for, after, limit)
        async with self._connection() as conn:
            (rows,) = await self._run(conn, [(q.LIST, params)])
        return [to_info(row, self.name) for row in rows]

    async def delete_inactive(self, older_than: float, agent_id: str | None = None) -> int:
        params = {"agent": agent_id, "age": older_than, "origin": self._origin}
        async with self._connection() as conn:
            (rows,) = await self._run(conn, [(q.DELETE_INACTIVE, params)])
        return self._emit_deleted(rows)

    # -- synchronous twins ---------------------------------------------------------------
    def _migrate_once(self, dsn: str) -> None:
        if self.migrate and not self._migrated:
            apply_migrations(dsn, connect_timeout=self.timeout)
            self._migrated = True

    def get_sync(self, agent_id: str, session_id: str) -> SessionRecord | None:
        rows = self._sync.one((q.GET, {"a": agent_id, "s": session_id}))
        return to_record(agent_id, session_id, rows)

    def set_sync(
        self,
        agent_id: str,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: float | None = None,
    ) -> None:
        copies = [dict(m) for m in messages]
        dumped = q.dump_messages(copies)
        self._cache.drop((agent_id, session_id))

        def replace(conn: psycopg.Connection[Any]) -> Plan:
            results = q.run_sync(conn, lock_statements(agent_id, session_id))
            plan = self._plan_replace(agent_id, session_id, results, copies, dumped, ttl)
            q.run_sync(conn, plan.statements)
            return plan

        self._emit_plan(self._sync.run(replace), (agent_id, session_id))

    def clear_sync(self, agent_id: str, session_id: str) -> bool:
        self._cache.drop((agent_id, session_id))
        statements = clear_statements(agent_id, session_id, self._origin)
        results = self._sync.run(lambda conn: q.run_sync(conn, statements))
        return self._emit_cleared(agent_id, session_id, results[2])

    def list_sync(
        self, agent_id: str | None = None, *, inactive_for: float | None = None
    ) -> SessionInfos:
        rows = self._sync.one((q.LIST, list_params(agent_id, inactive_for, None, None)))
        return [to_info(row, self.name) for row in rows]

    def delete_inactive_sync(self, older_than: float, agent_id: str | None = None) -> int:
        params = {"agent": agent_id, "age": older_than, "origin": self._origin}
        rows = self._sync.one((q.DELETE_INACTIVE, params))
        return self._emit_deleted(rows)

    # -- events --------------------------------------------------------------------------
    def add_listener(self, listener: SessionListener) -> Callable[[], None]:
        """Deliver every change (this process's and, via LISTEN/NOTIFY, others') to
        ``listener``. The LISTEN connection starts with the first listener."""
        remove = self._listeners.add(listener)
        self._start_relay()
        return remove

    def _start_relay(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            dsn = self.dsn
        except (RuntimeError, StoreUnavailableError):
            return  # no loop here, or no DSN yet: open() starts it (or reports the DSN)
        if self._relay is None:
            self._relay = NotifyRelay(
                dsn, self._origin, self._deliver, connect_timeout=self.timeout
            )
        self._relay.start()

    def _deliver(self, kind: str, agent_id: str, session_id: str, count: int) -> None:
        event = SessionEvent(kind, agent_id, session_id, self.name, count)  # type: ignore[arg-type]
        self._listeners.emit(event)

    def _emit(self, kind: SessionEventKind, key: Key, count: int) -> None:
        if not self._listeners:
            return
        loop = self._loop
        if loop is not None and loop.is_running() and not _on_loop_thread(loop):
            loop.call_soon_threadsafe(self._deliver, kind, key[0], key[1], count)
        else:
            self._deliver(kind, key[0], key[1], count)

    def _emit_plan(self, plan: Plan, key: Key) -> None:
        if plan.expired:
            self._emit("expired", key, 0)
        self._emit(plan.kind, key, plan.message_count)

    def _emit_cleared(self, agent_id: str, session_id: str, rows: q.Rows) -> bool:
        live = bool(rows and rows[0][0])
        if rows:
            self._emit("cleared" if live else "expired", (agent_id, session_id), 0)
        return live

    def _emit_deleted(self, rows: q.Rows) -> int:
        for agent_id, session_id, _ in rows:
            self._cache.drop((agent_id, session_id))
            self._emit("cleared", (agent_id, session_id), 0)
        return len(rows)


class _PooledConnection:
    """``async with store._connection() as conn``: a pool connection, given back after."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._conn: Any = None

    async def __aenter__(self) -> Any:
        self._conn = await self._store._getconn()
        return self._conn

    async def __aexit__(self, *exc_info: object) -> None:
        await self._store._end_transaction(self._conn, rollback=True)


async def _configure(conn: Any) -> None:
    """Key lookups only: plan once per connection instead of on every execution."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
