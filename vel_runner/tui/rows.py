"""What the sessions table shows for each session, how it sorts, and what ``/`` matches.

Cells are built once per change of a session, not once per second: the two relative-time
columns hold :class:`Relative` objects that format themselves against the clock
when the table draws them, so time passing costs nothing for rows off screen. Text from the
server goes in with its markup escaped, so a ``[`` in a session id shows as itself. Cells are
plain ``str`` and ``int`` rather than ``rich.text.Text``: those are not tracked by the cyclic
garbage collector, which keeps its full collections (a stall of the whole screen) short with
10,000 rows on the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.markup import escape

from .api_types import SessionSummary
from .durations import ago, timestamp, until

Clock = Callable[[], datetime]

#: (column key, header, the SessionSummary field it shows) in display order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("agent", "Agent", "agent_id"),
    ("session", "Session", "session_id"),
    ("messages", "Messages", "message_count"),
    ("tokens", "Tokens", "total_tokens"),
    ("turns", "Turns", "turns"),
    ("turning", "⏵", "in_turn"),
    ("store", "Store", "store"),
    ("created", "Created (UTC)", "created_at"),
    ("active", "Last active", "updated_at"),
    ("expires", "Expires", "expires_at"),
)
COLUMN_KEYS: tuple[str, ...] = tuple(key for key, _, _ in COLUMNS)
HEADERS: dict[str, str] = {key: header for key, header, _ in COLUMNS}
FIELDS: dict[str, str] = {key: name for key, _, name in COLUMNS}

_NEVER = datetime.max.isoformat()


@dataclass(frozen=True, slots=True)
class Relative:
    """A time shown against now (``12s ago``, ``in 5m``, ``never``), formatted when drawn
    (``str()``), so it stays current without updates."""

    moment: datetime | None
    clock: Clock
    render: Callable[[datetime | None, datetime], str]

    def __str__(self) -> str:
        return self.render(self.moment, self.clock())


def cell(session: SessionSummary, column: str, clock: Clock) -> object:
    """The value the table holds for ``column`` of ``session``."""
    if column == "active":
        return Relative(session.updated_at, clock, ago)
    if column == "expires":
        return Relative(session.expires_at, clock, until)
    if column == "created":
        return timestamp(session.created_at)
    if column == "messages":
        return session.message_count
    if column in {"tokens", "turns"}:
        return getattr(session, FIELDS[column])
    if column == "turning":
        return "⏵" if session.in_turn else ""
    return escape(getattr(session, FIELDS[column]))


def cells(session: SessionSummary, clock: Clock) -> list[object]:
    """The row's values, in :data:`COLUMNS` order."""
    return [cell(session, column, clock) for column in COLUMN_KEYS]


def changed_columns(old: SessionSummary, new: SessionSummary) -> list[str]:
    """The columns whose underlying field differs between two versions of a session."""
    return [key for key, name in FIELDS.items() if getattr(old, name) != getattr(new, name)]


def _time_key(moment: datetime | None) -> str:
    # ISO strings of UTC times sort like the times; a missing time sorts last.
    return _NEVER if moment is None else moment.isoformat()


def sort_value(session: SessionSummary, column: str) -> Any:
    """The value ``column`` sorts by (ties broken by agent then session id)."""
    tie = (session.agent_id, session.session_id)
    if column == "session":
        return (session.session_id, session.agent_id)
    if column in {"messages", "tokens", "turns", "turning"}:
        return (getattr(session, FIELDS[column]), *tie)
    if column == "store":
        return (session.store, *tie)
    if column in {"created", "active", "expires"}:
        return (_time_key(getattr(session, FIELDS[column])), *tie)
    return tie


def matches(session: SessionSummary, query: str) -> bool:
    """``/`` filter: a case-insensitive substring of the agent id or the session id."""
    if not query:
        return True
    needle = query.casefold()
    return needle in session.agent_id.casefold() or needle in session.session_id.casefold()
