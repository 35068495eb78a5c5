"""Running the store's statements: one pipeline (one network round trip) per operation.

The SQL text lives in :mod:`.pg_sql`; this is the code that sends it, the same for the sync
and the async connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .pg_sql import Statement

Rows = list[tuple[Any, ...]]


async def run_async(conn: Any, statements: Sequence[Statement]) -> list[Rows]:
    """Run ``statements`` in one pipeline on an async connection; the rows of each."""
    async with conn.pipeline():
        cursors = [await conn.execute(query, params) for query, params in statements]
    return [await cur.fetchall() if cur.description else [] for cur in cursors]


def run_sync(conn: Any, statements: Sequence[Statement]) -> list[Rows]:
    """Run ``statements`` in one pipeline on a sync connection; the rows of each."""
    with conn.pipeline():
        cursors = [conn.execute(query, params) for query, params in statements]
    return [cur.fetchall() if cur.description else [] for cur in cursors]
