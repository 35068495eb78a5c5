"""The store's connection pool: psycopg_pool's own, behind one door that speaks our errors.

``get``, ``set``, ``clear``, listings, cleanup and a turn that waits for a busy session take
their connection from :meth:`Pool.connection`, which is ``AsyncConnectionPool.connection()``
(a connection handed back after use, rolled back after an error, replaced when broken) with
every database error, the pool's timeout included, turned into
:class:`~vel_runner.errors.StoreUnavailableError` without the password.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ..errors import StoreUnavailableError
from ..redact import store_unavailable


class Pool:
    """An ``AsyncConnectionPool`` created by :meth:`open` inside the running event loop."""

    def __init__(
        self,
        dsn: Callable[[], str],
        *,
        name: str,
        min_size: int,
        max_size: int,
        timeout: float,
        max_idle: float,
    ) -> None:
        self._dsn = dsn
        self._name = name
        self._sizes = (min_size, max_size)
        self._timeout = timeout
        self._max_idle = max_idle
        self._pool: AsyncConnectionPool[Any] | None = None

    @property
    def opened(self) -> bool:
        return self._pool is not None

    async def open(self) -> None:
        """Start the pool; its connections are made in the background. Idempotent."""
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self._dsn(),
            min_size=self._sizes[0],
            max_size=self._sizes[1],
            timeout=self._timeout,
            max_idle=self._max_idle,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(self._timeout))},
            name=f"vel-{self._name}",
            configure=_configure,
            open=False,
        )
        await pool.open(wait=False)
        self._pool = pool

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """``async with pool.connection() as conn``: a pool connection for this block."""
        if self._pool is None:
            raise StoreUnavailableError(f"the session store {self._name!r} is closed")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:  # psycopg_pool's PoolTimeout is one too
            raise store_unavailable(self._dsn(), exc) from None

    def stats(self) -> dict[str, int]:
        """psycopg_pool's counters (``pool_size``, ``connections_num``...); empty when closed."""
        return self._pool.get_stats() if self._pool is not None else {}

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    """Key lookups only: plan once per connection instead of on every execution."""
    await conn.execute("SET plan_cache_mode = force_generic_plan")
