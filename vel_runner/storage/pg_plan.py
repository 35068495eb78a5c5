"""What a write to a PostgreSQL session does, worked out before anything is sent.

The plans here are pure: from the session row read under the session's lock they compute the
statements of one transaction (run as a single pipeline) and the session's state afterwards.
Turns (append) and ``set`` (replace) share them, in the sync and the async code alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..messages import Message, pinned_count
from . import pg_sql as q
from .base import UNCHANGED, SessionEventKind, SessionInfo, SessionRecord


@dataclass(slots=True)
class LockedRow:
    """A session as read under its lock: absent, expired, or live with these numbers."""

    exists: bool = False
    expired: bool = False
    epoch: int = 0
    seq: int = 0
    base: int = 0
    pinned: list[Message] = field(default_factory=list)
    summary: str | None = None

    @property
    def live(self) -> bool:
        return self.exists and not self.expired

    @classmethod
    def parse(cls, rows: q.Rows) -> LockedRow:
        if not rows:
            return cls()
        epoch, seq, base, context, summary, expired = rows[0][:6]
        return cls(True, bool(expired), epoch, seq, base, list(context), summary)


@dataclass(slots=True)
class Plan:
    """The statements of one write and the session's state once they commit."""

    statements: list[q.Statement]
    epoch_at: int  # index of the statement whose RETURNING gives the epoch
    kind: SessionEventKind
    expired: bool
    seq: int
    base: int
    pinned: list[Message]
    appended: list[Message]  # the non-pinned messages this write added, oldest first

    @property
    def message_count(self) -> int:
        return len(self.pinned) + self.seq - self.base


def _row_statement(
    key: dict[str, Any], row: LockedRow, values: dict[str, Any], *, replace: bool = False
) -> q.Statement:
    """INSERT a new session, or UPDATE (``replace``: and re-epoch) the live one."""
    if not row.live:
        return q.INSERT_SESSION, {**key, **values}
    return (q.REPLACE_SESSION if replace else q.UPDATE_SESSION), {**key, **values}


def _finish(
    key: dict[str, Any],
    row: LockedRow,
    statements: list[q.Statement],
    plan: Plan,
    origin: str,
    notify: bool,
) -> Plan:
    if row.exists and row.expired:
        statements.insert(0, (q.DELETE_SESSION, key))
        plan.epoch_at += 1
    if notify:
        payload = q.event_payload(plan.kind, key["a"], key["s"], plan.message_count, origin)
        statements.append((q.NOTIFY, {"payload": payload}))
    statements.append(q.COMMIT)
    return plan


def plan_append(
    key: dict[str, Any],
    row: LockedRow,
    new_messages: Sequence[Message],
    dumped: list[str],
    *,
    keep: int | None,
    summary: Any,
    ttl: float | None,
    origin: str,
    notify: bool = True,
    relock: bool = False,
    unlock: bool = True,
) -> Plan:
    """Append ``new_messages`` (``dumped`` is their JSON) then trim to ``keep`` (a turn).

    The transaction re-takes the session's lock first when ``relock`` (the turn's own lock
    was lost with its connection) and ends the turn's session-level lock when ``unlock``.
    Its write applies only to the row as the turn read it (see ``pg_sql.APPEND_EXISTING``).
    """
    seq, base = (row.seq, row.base) if row.live else (0, 0)
    pinned = list(row.pinned) if row.live else []
    lead = pinned_count(new_messages) if seq == base else 0  # nothing unpinned yet
    context = None
    if lead or not row.live:
        pinned.extend(new_messages[:lead])
        context = json.dumps(pinned, ensure_ascii=False)
    appended = list(new_messages[lead:])
    new_seq = seq + len(appended)
    new_base = base
    if keep is not None and new_seq - base > keep:
        new_base = new_seq - max(keep, 0)
    dropped_now = max(0, new_base - seq)  # appended rows a small ``keep`` drops at once
    kind: SessionEventKind = "updated" if row.live else "created"
    count = len(pinned) + new_seq - new_base
    params = {
        **key,
        "context": context,
        "set_summary": summary is not UNCHANGED,
        "summary": None if summary is UNCHANGED else summary,
        "seq": new_seq,
        "base": new_base,
        "ttl": ttl,
        "first": seq + 1 + dropped_now,
        "messages": dumped[lead + dropped_now :],
        "above": base,
        "upto": min(new_base, seq),
        "notify": notify,
        "payload": q.event_payload(kind, key["a"], key["s"], count, origin) if notify else "",
        "epoch": row.epoch,
        "read_seq": row.seq,
    }
    statements: list[q.Statement] = [q.BEGIN]
    if relock:
        statements.append((q.LOCK, key))
    if row.exists and row.expired:
        statements.append((q.DELETE_EXPIRED, {**key, "epoch": row.epoch}))
    statements.append((q.APPEND_EXISTING if row.live else q.APPEND_NEW, params))
    epoch_at = len(statements) - 1
    statements.append(q.COMMIT)
    if unlock:
        statements.append((q.UNLOCK, key))
    return Plan(statements, epoch_at, kind, row.expired, new_seq, new_base, pinned, appended)


def plan_replace(
    key: dict[str, Any],
    row: LockedRow,
    messages: Sequence[Message],
    dumped: list[str],
    *,
    ttl: float | None,
    origin: str,
    notify: bool = True,
) -> Plan:
    """Replace the whole session with ``messages`` and drop its summary (``set``)."""
    lead = pinned_count(messages)
    pinned = list(messages[:lead])
    appended = list(messages[lead:])
    values = {
        "context": json.dumps(pinned, ensure_ascii=False),
        "summary": None,
        "seq": len(appended),
        "base": 0,
        "ttl": ttl,
    }
    statements: list[q.Statement] = []
    if row.live:
        statements.append((q.DELETE_MESSAGES, {**key, "above": -1, "upto": row.seq}))
    statements.append(_row_statement(key, row, values, replace=True))
    epoch_at = len(statements) - 1
    if appended:
        statements.append((q.INSERT_MESSAGES, {**key, "first": 1, "messages": dumped[lead:]}))
    kind: SessionEventKind = "updated" if row.live else "created"
    plan = Plan(statements, epoch_at, kind, row.expired, len(appended), 0, pinned, appended)
    return _finish(key, row, statements, plan, origin, notify)


def lock_statements(agent_id: str, session_id: str) -> list[q.Statement]:
    """Open a transaction that waits for the session's turn in flight, then reads its row."""
    key = {"a": agent_id, "s": session_id}
    return [q.BEGIN, (q.LOCK, key), (q.SELECT_ROW, key)]


def clear_statements(agent_id: str, session_id: str, origin: str) -> list[q.Statement]:
    """Delete a session once its turn in flight (if any) has finished; rows at index 2."""
    key = {"a": agent_id, "s": session_id}
    return [q.BEGIN, (q.LOCK, key), (q.CLEAR, {**key, "origin": origin}), q.COMMIT]


def list_params(
    agent_id: str | None,
    inactive_for: float | None,
    after: tuple[str, str] | None,
    limit: int | None,
) -> dict[str, Any]:
    after_a, after_s = after if after is not None else (None, None)
    return {
        "agent": agent_id,
        "age": inactive_for,
        "after_a": after_a,
        "after_s": after_s,
        "limit": limit,
    }


def to_record(agent_id: str, session_id: str, rows: q.Rows) -> SessionRecord | None:
    if not rows:
        return None
    context, summary, created_at, updated_at, expires_at, tail = rows[0]
    return SessionRecord(
        agent_id, session_id, [*context, *tail], summary, created_at, updated_at, expires_at
    )


def to_info(row: tuple[Any, ...], store: str) -> SessionInfo:
    agent_id, session_id, count, created_at, updated_at, expires_at = row
    return SessionInfo(agent_id, session_id, count, created_at, updated_at, expires_at, store)
