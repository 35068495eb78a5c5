"""The one synchronous connection behind the PostgreSQL store's ``*_sync`` twins.

The spec's ``agent.ctxmgr`` methods are synchronous and may be called from plain scripts,
from worker threads or inside ``async def`` code. A plain psycopg connection (not the async
pool, which belongs to one event loop) serves all three; a lock makes it safe across threads.
It reconnects after an outage, and its ``lock_timeout`` keeps a sync call on a loop's thread
from waiting forever for a turn that cannot progress while the loop is blocked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from ..redact import store_unavailable
from . import pg_sql as q
from .pg_run import Rows, run_sync

T = TypeVar("T")


class SyncConnection:
    """Runs work on one lazily opened sync connection; errors become ``StoreUnavailableError``."""

    def __init__(
        self,
        dsn: Callable[[], str],
        timeout: float,
        prepare: Callable[[str], None],
    ) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._prepare = prepare  # e.g. apply migrations once, before the first use
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    def run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        dsn = self._dsn()
        with self._lock:
            try:
                self._prepare(dsn)
                conn = self._conn
                if conn is None or conn.closed or conn.broken:
                    conn = self._conn = psycopg.connect(
                        dsn, autocommit=True, connect_timeout=max(1, round(self._timeout))
                    )
                    conn.execute(f"SET lock_timeout = {int(self._timeout * 1000)}")
                try:
                    return work(conn)
                except psycopg.Error:
                    if not conn.broken:
                        conn.rollback()
                    raise
            except psycopg.Error as exc:
                raise store_unavailable(dsn, exc) from None

    def one(self, statement: q.Statement) -> Rows:
        """The rows of one statement."""
        return self.run(lambda conn: run_sync(conn, [statement])[0])

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
