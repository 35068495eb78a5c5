"""The PostgreSQL store's listings: what the cleanup tools, the sweep and the dashboard read
or delete across sessions (the sessions of an agent, those inactive for a while, the expired
ones, the approvals waiting in them), apart from what serves one session (:mod:`.postgres`).
:class:`PostgresListings` is a base of :class:`~vel_runner.storage.postgres.PostgresStore`,
as :mod:`.memory_listing` is of the memory store; :class:`PgListingStore` says what it uses.
"""

from __future__ import annotations

import builtins
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import psycopg

from ..approvals import PendingApproval, pending
from . import pg_sql as q
from .base import SessionEventKind, SessionInfo
from .pg_engine import TurnEngine
from .pg_plan import list_params, to_info
from .pg_run import Rows, run_async
from .pg_session_events import SessionEvents
from .pg_sync import SyncConnection


class PgListingStore(Protocol):
    """What the listings use of the PostgreSQL store."""

    name: str
    _origin: str
    _engine: TurnEngine
    _events: SessionEvents
    _sync: SyncConnection

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]: ...

    def _deleted(self, rows: Rows, kind: SessionEventKind = "cleared") -> int: ...


class PostgresListings:
    """The listings of :class:`~vel_runner.storage.postgres.PostgresStore` (a base class)."""

    __slots__ = ()

    async def list(
        self: PgListingStore,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> builtins.list[SessionInfo]:
        params = list_params(agent_id, inactive_for, after, limit)
        async with self._connection() as conn:
            (rows,) = await run_async(conn, [(q.LIST, params)])
        return [to_info(row, self.name) for row in rows]

    async def delete_inactive(
        self: PgListingStore, older_than: float, agent_id: str | None = None
    ) -> int:
        params = {"agent": agent_id, "age": older_than, "origin": self._origin}
        async with self._connection() as conn:
            (rows,) = await run_async(conn, [(q.DELETE_INACTIVE, params)])
        return self._deleted(rows)

    async def sweep(self: PgListingStore) -> int:
        """Delete expired sessions no turn holds (``expired`` events) unless another process
        is sweeping right now (then 0); count them. ``serve`` calls it on a schedule."""
        async with self._connection() as conn:
            (rows,) = await run_async(conn, [(q.SWEEP_EXPIRED, {"origin": self._origin})])
        return self._deleted(rows, "expired")

    async def pending_approvals(
        self: PgListingStore, agent_id: str | None = None
    ) -> builtins.list[PendingApproval]:
        """The approvals waiting in live sessions (migration 0007's index finds them)."""
        async with self._connection() as conn:
            (rows,) = await run_async(conn, [(q.PENDING_APPROVALS, {"a": agent_id})])
        return [
            PendingApproval(agent, session, approval, expires)
            for agent, session, expires, message, after in rows
            for approval in pending([message, *after])
        ]

    # -- synchronous twins (on the store's one sync connection) ----------------------------
    def list_sync(
        self: PgListingStore, agent_id: str | None = None, *, inactive_for: float | None = None
    ) -> builtins.list[SessionInfo]:
        rows = self._sync.one((q.LIST, list_params(agent_id, inactive_for, None, None)))
        return [to_info(row, self.name) for row in rows]

    def delete_inactive_sync(
        self: PgListingStore, older_than: float, agent_id: str | None = None
    ) -> int:
        params = {"agent": agent_id, "age": older_than, "origin": self._origin}
        return self._deleted(self._sync.one((q.DELETE_INACTIVE, params)))

    def _deleted(self: PgListingStore, rows: Rows, kind: SessionEventKind = "cleared") -> int:
        """Sessions deleted by cleanup or the sweep (``(agent, session, _)`` rows): out of
        the turn cache, an event each; count them."""
        for agent_id, session_id, _ in rows:
            self._engine.forget((agent_id, session_id))
        return self._events.deleted(rows, kind)


__all__ = ["PgListingStore", "PostgresListings"]
