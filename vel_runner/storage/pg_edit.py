"""A history edit on a PostgreSQL session (``store.edit``): one transaction on one connection.

It waits for the session's turn in flight (the advisory lock every turn and ``set`` take),
reads the row and every message as they are now, applies the caller's change, and writes
the result as ``set`` does (a new epoch, so every process's cached copy is stale) but
keeping the summary. Nothing is written when the session is missing, the change raises, or
it changes nothing; the transaction is rolled back then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import psycopg

from ..messages import Message
from . import pg_sql as q
from .base import HistoryEdit
from .pg_plan import Plan, dump_messages, edit_statements, to_record
from .pg_run import Rows, run_async

#: Plans the write of the kept messages: ``(locked rows, messages, their JSON) -> Plan``.
PlanReplace = Callable[[list[Rows], list[Message], list[str]], Plan]


async def edit_session(
    conn: psycopg.AsyncConnection[Any],
    agent_id: str,
    session_id: str,
    change: HistoryEdit,
    plan_replace: PlanReplace,
) -> tuple[list[Message] | None, Plan | None]:
    """The messages stored afterwards (``None``: no session) and the write's plan (``None``:
    nothing written)."""
    results = await run_async(conn, edit_statements(agent_id, session_id))
    record = to_record(agent_id, session_id, results[3])  # None when absent or expired
    plan = None
    try:
        if record is None:
            return None, None
        kept = [dict(m) for m in change([dict(m) for m in record.messages])]
        if kept == record.messages:
            return kept, None
        write = plan_replace(results, kept, dump_messages(kept))
        await run_async(conn, write.statements)
        plan = write
        return kept, plan
    finally:
        if plan is None:  # end the transaction (and its lock) here, not in the pool's warning
            with contextlib.suppress(psycopg.Error):
                await run_async(conn, [q.ROLLBACK])
