"""What the sessions table shows for each session, how it sorts, and what ``/`` matches.

Pure functions of a :class:`SessionSummary` and the clock, so they are cheap to run over
10,000 sessions every second and easy to test without a terminal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .api_types import SessionSummary
from .durations import ago, timestamp, until

#: (column key, header) in display order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("agent", "Agent"),
    ("session", "Session"),
    ("messages", "Messages"),
    ("store", "Store"),
    ("created", "Created (UTC)"),
    ("active", "Last active"),
    ("expires", "Expires"),
)
COLUMN_KEYS: tuple[str, ...] = tuple(key for key, _ in COLUMNS)
HEADERS: dict[str, str] = dict(COLUMNS)

_NEVER = datetime.max.replace(tzinfo=None).isoformat()


def cells(session: SessionSummary, now: datetime) -> tuple[str, ...]:
    """The row's cell texts, in :data:`COLUMNS` order."""
    return (
        session.agent_id,
        session.session_id,
        str(session.message_count),
        session.store,
        timestamp(session.created_at),
        ago(session.updated_at, now),
        until(session.expires_at, now),
    )


def _time_key(moment: datetime | None) -> str:
    # ISO strings of UTC times sort like the times; a missing time sorts last.
    return _NEVER if moment is None else moment.isoformat()


def sort_value(session: SessionSummary, column: str) -> Any:
    """The value ``column`` sorts by (ties broken by agent then session id)."""
    tie = (session.agent_id, session.session_id)
    if column == "session":
        return (session.session_id, session.agent_id)
    if column == "messages":
        return (session.message_count, *tie)
    if column == "store":
        return (session.store, *tie)
    if column == "created":
        return (_time_key(session.created_at), *tie)
    if column == "active":
        return (_time_key(session.updated_at), *tie)
    if column == "expires":
        return (_time_key(session.expires_at), *tie)
    return tie


def matches(session: SessionSummary, query: str) -> bool:
    """``/`` filter: a case-insensitive substring of the agent id or the session id."""
    if not query:
        return True
    needle = query.casefold()
    return needle in session.agent_id.casefold() or needle in session.session_id.casefold()
