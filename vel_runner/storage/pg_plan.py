"""What a write to a PostgreSQL session does, worked out before anything is sent.

Pure code: from the session row read under the session's lock, :func:`plan_write` computes
the statements of one transaction (run as a single pipeline) and the session's state
afterwards, for turns (append) and ``set`` (replace) alike, in the sync and the async code.
Also here: the checked JSON of messages, the NOTIFY payload, and rows turned into records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError
from ..messages import Message, check_message_id, pinned_count
from . import pg_sql as q
from .base import UNCHANGED, SessionEventKind, SessionInfo, SessionRecord, TokenCounts
from .pg_run import Rows


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
    def parse(cls, rows: Rows) -> LockedRow:
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


def plan_write(
    key: dict[str, Any],
    row: LockedRow,
    messages: Sequence[Message],
    dumped: list[str],
    *,
    origin: str,
    notify: bool = True,
    replace: bool = False,
    keep: int | None = None,
    summary: Any = UNCHANGED,
    ttl: float | None = None,
    begin: bool = True,
    relock: bool = False,
    unlock: bool = False,
    usage: TokenCounts | None = None,
) -> Plan:
    """Write ``messages`` (``dumped`` is their JSON) to the session as read in ``row``.

    A turn appends them, then trims to ``keep``; ``replace`` (``set``, ``edit``) puts them in
    place of everything stored and drops the cached copies (a new epoch); ``summary`` replaces
    the stored one unless it is ``UNCHANGED`` (``set`` passes ``None``). Either way
    the new rows get seqs above every stored one and the old rows that go are deleted, all
    in one statement that applies only to the row as read (``pg_sql.APPEND_EXISTING``).
    The transaction starts here unless ``begin`` is false (``set`` opened it to lock and
    read), re-takes the session's lock first when ``relock`` (a turn whose lock was lost with
    its connection) and ends the turn's session-level lock after it when ``unlock``.
    ``usage`` (a turn's input and output tokens) adds to the session's sums and counts one
    turn; ``None`` (``set``) leaves them.
    """
    live = row.live
    start = row.seq if live else 0  # seq of the newest stored message
    floor = row.base if live else 0  # rows at or below it are already gone
    base = start if replace else floor  # replace: every stored message goes
    pinned = list(row.pinned) if live and not replace else []
    lead = pinned_count(messages) if start == base else 0  # nothing unpinned yet
    context = None
    if lead or replace or not live:
        pinned.extend(messages[:lead])
        context = json.dumps(pinned, ensure_ascii=False)
    appended = list(messages[lead:])
    new_seq = start + len(appended)
    new_base = base
    if keep is not None and new_seq - base > keep:
        new_base = new_seq - max(keep, 0)
    dropped_now = max(0, new_base - start)  # appended rows a small ``keep`` drops at once
    kind: SessionEventKind = "updated" if live else "created"
    count = len(pinned) + new_seq - new_base
    params = {
        **key,
        "context": context,
        "set_summary": summary is not UNCHANGED,
        "summary": None if summary is UNCHANGED else summary,
        "seq": new_seq,
        "base": new_base,
        "ttl": ttl,
        "first": start + 1 + dropped_now,
        "messages": dumped[lead + dropped_now :],
        "above": floor,
        "upto": min(new_base, start),
        "notify": notify,
        "payload": event_payload(kind, key["a"], key["s"], count, origin) if notify else "",
        "epoch": row.epoch,
        "read_seq": row.seq,
        "in_tokens": usage[0] if usage else 0,
        "out_tokens": usage[1] if usage else 0,
        "turns": 0 if usage is None else 1,
    }
    statements: list[q.Statement] = [q.BEGIN] if begin else []
    if relock:
        statements.append((q.LOCK, key))
    if row.exists and row.expired:
        statements.append((q.DELETE_EXPIRED, {**key, "epoch": row.epoch}))
    write = q.APPEND_NEW if not live else q.REPLACE_EXISTING if replace else q.APPEND_EXISTING
    statements.append((write, params))
    epoch_at = len(statements) - 1
    statements.append(q.COMMIT)
    if unlock:
        statements.append((q.UNLOCK, key))
    return Plan(statements, epoch_at, kind, row.expired, new_seq, new_base, pinned, appended)


def plan_replace(
    key: tuple[str, str],
    locked: list[Rows],
    messages: list[Message],
    dumped: list[str],
    origin: str,
    notify: bool,
    ttl: float | None,
) -> Plan:
    """A ``set``'s write: ``messages`` in place of the session's, read under the lock that
    :func:`lock_statements` took (``locked`` holds their results); the summary is dropped."""
    return plan_write(
        {"a": key[0], "s": key[1]},
        LockedRow.parse(locked[2]),
        messages,
        dumped,
        origin=origin,
        notify=notify,
        replace=True,
        summary=None,  # a set drops the summary
        ttl=ttl,
        begin=False,  # lock_statements began the transaction
    )


def lock_statements(agent_id: str, session_id: str) -> list[q.Statement]:
    """Open a transaction that waits for the session's turn in flight, then reads its row."""
    key = {"a": agent_id, "s": session_id}
    return [q.BEGIN, (q.LOCK, key), (q.SELECT_ROW, key)]


def edit_statements(agent_id: str, session_id: str) -> list[q.Statement]:
    """:func:`lock_statements`, then the session's messages as of now (rows at index 3)."""
    return [*lock_statements(agent_id, session_id), (q.GET, {"a": agent_id, "s": session_id})]


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


def to_record(agent_id: str, session_id: str, rows: Rows) -> SessionRecord | None:
    if not rows:
        return None
    context, summary, created_at, updated_at, expires_at, *usage, tail = rows[0]
    return SessionRecord(
        agent_id,
        session_id,
        [*context, *tail],
        summary,
        created_at,
        updated_at,
        expires_at,
        *usage,
    )


def to_info(row: tuple[Any, ...], store: str) -> SessionInfo:
    agent_id, session_id, count, created_at, updated_at, expires_at, *usage = row
    return SessionInfo(
        agent_id, session_id, count, created_at, updated_at, expires_at, store, *usage
    )


_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def dump_messages(messages: Sequence[Message], what: str = "messages") -> list[str]:
    """JSON text of each message, checked before anything is written.

    Rejects what JSON or PostgreSQL's ``jsonb`` cannot hold: non-serializable values, NUL
    characters, unpaired surrogates; and ids too long for the message index.
    """
    dumped = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidInputError(f"{what}[{index}] must be a dict, got {type(message).__name__}")
        if isinstance(message.get("id"), str):
            check_message_id(message["id"], f"{what}[{index}].id")
        try:
            text = json.dumps(message, ensure_ascii=False, allow_nan=False)
            text.encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidInputError(f"{what}[{index}] is not JSON-serializable: {exc}") from None
        if _NUL_ESCAPE.search(text):
            raise InvalidInputError(
                f"{what}[{index}] contains a NUL character, which PostgreSQL cannot store"
            )
        dumped.append(text)
    return dumped


def event_payload(kind: str, agent_id: str, session_id: str, count: int, origin: str) -> str:
    """The NOTIFY payload other processes turn into a :class:`SessionEvent`."""
    return json.dumps({"k": kind, "a": agent_id, "s": session_id, "n": count, "o": origin})
