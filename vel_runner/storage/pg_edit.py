"""A history edit on a PostgreSQL session (``store.edit``): one transaction on one connection.

It waits for the session's turn in flight (the advisory lock every turn and ``set`` take),
reads the row and every message as they are now, applies the caller's change, and writes
the result as ``set`` does (a new epoch, so every process's cached copy is stale) but
keeping the summary. Nothing is written when the session is missing, the change raises, or
it changes nothing; the transaction is rolled back then.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from ..messages import Message
from . import pg_sql as q
from .base import UNCHANGED, HistoryEdit
from .pg_cache import Key
from .pg_plan import LockedRow, Plan, dump_messages, edit_statements, plan_write, to_record
from .pg_run import run_async


async def edit_session(
    conn: psycopg.AsyncConnection[Any],
    key: Key,
    change: HistoryEdit,
    origin: str,
    notify: bool,
    ttl: float | None,
) -> tuple[list[Message] | None, Plan | None]:
    """The messages stored afterwards (``None``: no session) and the write's plan (``None``:
    nothing written). ``origin``, ``notify``: the store's, for the change's notification."""
    agent_id, session_id = key
    results = await run_async(conn, edit_statements(agent_id, session_id))
    record = to_record(agent_id, session_id, results[3])  # None when absent or expired
    plan = None
    try:
        if record is None:
            return None, None
        kept = [dict(m) for m in change([dict(m) for m in record.messages])]
        if kept == record.messages:
            return kept, None
        write = plan_write(
            {"a": agent_id, "s": session_id},
            LockedRow.parse(results[2]),
            kept,
            dump_messages(kept),
            origin=origin,
            notify=notify,
            replace=True,
            summary=UNCHANGED,  # unlike set, an edit keeps the summary
            ttl=ttl,
            begin=False,  # edit_statements began the transaction
        )
        await run_async(conn, write.statements)
        plan = write
        return kept, plan
    finally:
        if plan is None:  # end the transaction (and its lock) here, not in the pool's warning
            with contextlib.suppress(psycopg.Error):
                await run_async(conn, [q.ROLLBACK])
