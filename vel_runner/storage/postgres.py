"""The PostgreSQL session store (``session_storage='database'``): persistent and shared.

Async methods (``turn``, ``get``, ``set``, ``clear``, ``list``, ``delete_inactive``) use a
``psycopg_pool.AsyncConnectionPool`` created inside the running loop by ``open()``; they never
block the event loop. The ``*_sync`` twins (behind the spec's synchronous ``agent.ctxmgr``
methods) use one synchronous psycopg connection of their own, so they work from plain code and
from a thread that runs a loop; called on a loop's thread they block that loop for one round
trip, so async code should call the async methods.

The store wires the parts together (module map in docs/database.md). What reads or deletes
across sessions (listings, cleanup, the sweep, pending approvals) is its base class in
:mod:`.pg_listings`. Turns run in :mod:`.pg_engine`; writes are planned by :mod:`.pg_plan`;
SQL text is :mod:`.pg_sql`, run by :mod:`.pg_run`; the pool is :mod:`.pg_pool`; listeners get
their events from :mod:`.pg_session_events` (other processes' through :mod:`.pg_events`);
schema changes are :mod:`.pg_migrate`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..errors import StoreUnavailableError
from ..messages import Message
from ..redact import describe_dsn, store_unavailable
from . import pg_sql as q
from .base import HistoryEdit, MessageRef, SessionListener, SessionRecord
from .exit_guard import ExitGuard
from .pg_edit import edit_session
from .pg_engine import PostgresTurn, TurnEngine
from .pg_listings import PostgresListings
from .pg_migrate import apply_migrations
from .pg_plan import (
    Plan,
    clear_statements,
    dump_messages,
    lock_statements,
    plan_replace,
    to_record,
)
from .pg_pool import Pool
from .pg_run import run_async, run_sync
from .pg_session_events import SessionEvents
from .pg_sync import SyncConnection


class PostgresStore(PostgresListings):
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
        self._open_lock: asyncio.Lock | None = None
        self._migrated = False
        self._origin = uuid.uuid4().hex
        self._events = SessionEvents(name, self._origin, lambda: self.dsn, timeout)
        self._exit_guard = ExitGuard(self.close)
        self._sync = SyncConnection(lambda: self.dsn, timeout, self._migrate_once)
        self._pool = Pool(
            lambda: self.dsn,
            name=name,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            max_idle=max_idle,
        )
        self._engine = TurnEngine(
            self._pool,
            lambda: self.dsn,
            open_store=self.open,
            on_write=self._events.written,
            origin=self._origin,
            notify=notify,
            timeout=timeout,
            turn_connections=turn_connections,
            cache_sessions=cache_sessions,
            cache_messages=cache_messages,
        )

    def __repr__(self) -> str:
        where = describe_dsn(self._dsn_arg or os.environ.get("POSTGRES_DSN", ""))
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
        """Apply migrations (once) and create the pool in the running loop. Idempotent.

        A loop that ends without :meth:`close` (a script's ``asyncio.run``) closes the
        store on its way out (:mod:`.exit_guard`), so the script exits."""
        if self._pool.opened:
            return
        self._open_lock = self._open_lock or asyncio.Lock()
        async with self._open_lock:
            if self._pool.opened:
                return
            dsn = self.dsn
            try:  # a DSN the driver cannot parse: a clear error now, not the pool's log lines
                conninfo_to_dict(dsn)  # quoting it whole, password included, on every retry
            except psycopg.Error as exc:
                raise store_unavailable(dsn, exc) from None
            if self.migrate and not self._migrated:
                try:
                    await asyncio.to_thread(apply_migrations, dsn, connect_timeout=self.timeout)
                except psycopg.Error as exc:
                    raise store_unavailable(dsn, exc) from None
                self._migrated = True
            await self._pool.open()
            self._exit_guard.arm()
            self._events.opened()

    async def hearing_others(self, timeout: float = 5.0) -> bool:
        """``True`` once this store's listeners get other processes' changes too (the LISTEN
        connection is up); ``False`` after ``timeout`` s, or with no listener added."""
        return await self._events.heard(timeout)

    async def close(self) -> None:
        """Stop the event relay, close the pool and the sync connection. Idempotent."""
        self._exit_guard.disarm()
        await self._events.stop()
        await self._engine.close()
        await self._pool.close()
        self._sync.close()

    async def ping(self) -> None:
        async with self._connection() as conn:
            await run_async(conn, [("SELECT 1", None)])

    def pool_stats(self) -> dict[str, int]:
        """The pool's counters (psycopg_pool's ``get_stats()``); empty while closed."""
        return self._pool.stats()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        await self.open()
        async with self._pool.connection() as conn:
            yield conn

    # -- turns ---------------------------------------------------------------------------
    def turn(self, agent_id: str, session_id: str, *, window: int | None = None) -> PostgresTurn:
        return self._engine.turn((agent_id, session_id), window)

    # -- async operations ----------------------------------------------------------------
    async def get(self, agent_id: str, session_id: str) -> SessionRecord | None:
        async with self._connection() as conn:
            (rows,) = await run_async(conn, [(q.GET, {"a": agent_id, "s": session_id})])
        return to_record(agent_id, session_id, rows)

    async def set(
        self,
        agent_id: str,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: float | None = None,
    ) -> None:
        key = (agent_id, session_id)
        copies = [dict(m) for m in messages]
        dumped = dump_messages(copies)
        self._engine.forget(key)
        async with self._connection() as conn:
            results = await run_async(conn, lock_statements(agent_id, session_id))
            plan = plan_replace(key, results, copies, dumped, self._origin, self.notify, ttl)
            await run_async(conn, plan.statements)
        self._events.written(key, plan)

    async def edit(
        self,
        agent_id: str,
        session_id: str,
        change: HistoryEdit,
        *,
        ttl: float | None = None,
    ) -> list[Message] | None:
        """See :meth:`SessionStore.edit`: one transaction (:mod:`.pg_edit`)."""
        key = (agent_id, session_id)
        self._engine.forget(key)
        async with self._connection() as conn:
            kept, plan = await edit_session(conn, key, change, self._origin, self.notify, ttl)
        if plan is not None:
            self._events.written(key, plan)
        return kept

    async def find_message(self, message_id: str) -> MessageRef | None:
        """The session holding the message with this ``id`` (an index lookup)."""
        return (await self.find_messages([message_id])).get(message_id)

    async def find_messages(self, message_ids: Collection[str]) -> dict[str, MessageRef]:
        """:meth:`find_message` for many ids, in one query."""
        if not message_ids:
            return {}
        async with self._connection() as conn:
            (rows,) = await run_async(conn, [(q.FIND_MESSAGES, {"ids": list(message_ids)})])
        return {row[0]: MessageRef(*row[1:]) for row in rows}

    async def clear(self, agent_id: str, session_id: str) -> bool:
        self._engine.forget((agent_id, session_id))
        async with self._connection() as conn:
            results = await run_async(conn, clear_statements(agent_id, session_id, self._origin))
        return self._events.cleared((agent_id, session_id), results[2])

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
        key = (agent_id, session_id)
        copies = [dict(m) for m in messages]
        dumped = dump_messages(copies)
        self._engine.forget(key)

        def replace(conn: psycopg.Connection[Any]) -> Plan:
            results = run_sync(conn, lock_statements(agent_id, session_id))
            plan = plan_replace(key, results, copies, dumped, self._origin, self.notify, ttl)
            run_sync(conn, plan.statements)
            return plan

        self._events.written(key, self._sync.run(replace))

    def clear_sync(self, agent_id: str, session_id: str) -> bool:
        self._engine.forget((agent_id, session_id))
        statements = clear_statements(agent_id, session_id, self._origin)
        results = self._sync.run(lambda conn: run_sync(conn, statements))
        return self._events.cleared((agent_id, session_id), results[2])

    # -- events --------------------------------------------------------------------------
    def add_listener(self, listener: SessionListener) -> Callable[[], None]:
        """Deliver every change (this process's and, via LISTEN/NOTIFY, others') to
        ``listener``. The LISTEN connection starts with the first listener."""
        return self._events.add(listener)
