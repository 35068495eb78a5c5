"""The per-process copy of recent sessions' tails that makes a database turn cheap.

A warm process keeps, per recent session, its last messages with the ``epoch`` and ``seq``
they end at; a turn then reads from PostgreSQL only what was appended after that seq (usually
nothing) and joins the two here. For full-history turns the entry also holds the model's view
of those messages (:mod:`vel_runner.model_view`), extended with what each turn appends, so a
warm turn's cost does not grow with the history. Pure code: no I/O, unit-tested on its own.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..messages import Message
from ..model_view import HistoryView
from .pg_plan import LockedRow

Key = tuple[str, str]


@dataclass(slots=True)
class CachedTail:
    """The last messages of a session: non-pinned ones with seqs ``(seq - len, seq]``."""

    epoch: int
    seq: int
    messages: list[Message]
    #: The model's view of ``messages`` (full-history turns), or ``None``.
    view: HistoryView | None = None


class SessionCache:
    """A small LRU of session tails, bounded by sessions and by messages held.

    A turn :meth:`take` s its session's entry (it owns the list while it runs) and puts a
    valid one back, so two owners never share one list.
    """

    def __init__(self, max_sessions: int = 1024, max_messages: int = 200_000) -> None:
        self.max_sessions = max_sessions
        self.max_messages = max_messages
        self._entries: OrderedDict[Key, CachedTail] = OrderedDict()
        self._held = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held(self) -> int:
        """Messages held over all entries (bounded by ``max_messages``)."""
        return self._held

    def put(self, key: Key, entry: CachedTail) -> None:
        """Keep ``entry`` as the newest; evict the least recently put beyond the bounds."""
        self.drop(key)
        if self.max_sessions <= 0 or len(entry.messages) > self.max_messages:
            return
        self._entries[key] = entry
        self._held += len(entry.messages)
        while len(self._entries) > self.max_sessions or self._held > self.max_messages:
            _, evicted = self._entries.popitem(last=False)
            self._held -= len(evicted.messages)

    def take(self, key: Key) -> CachedTail | None:
        """Remove and return the entry (a turn owns it until it puts it back)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._held -= len(entry.messages)
        return entry

    def drop(self, key: Key) -> None:
        """Forget ``key`` (its session was replaced, cleared or deleted)."""
        self.take(key)

    def clear(self) -> None:
        self._entries.clear()
        self._held = 0


def live_bound(row: LockedRow, window: int | None) -> int:
    """The seq above which a turn needs the messages (window applied)."""
    return row.base if window is None else max(row.base, row.seq - window)


def merge_tail(
    cached: CachedTail, fresh: list[Message], row: LockedRow, window: int | None
) -> list[Message] | None:
    """The tail a turn needs: the cached copy (reused in place) plus ``fresh``, the messages
    read after its seq; ``None`` when the copy cannot give it (another epoch, older messages
    it lacks)."""
    if cached.epoch != row.epoch or cached.seq > row.seq:
        return None
    messages = cached.messages
    if row.seq - len(fresh) == cached.seq:
        messages.extend(fresh)
        if cached.view is not None:
            cached.view.extend(fresh)
    else:  # the read started above the copy (a window or a trim): the copy is not needed
        messages = fresh
    return trim_to(messages, row.seq, live_bound(row, window))


def view_of(cached: CachedTail | None, tail: list[Message]) -> HistoryView:
    """The model's view of ``tail``: the cached one when it still mirrors it, else a new one."""
    view = cached.view if cached is not None else None
    if view is None or not view.mirrors(tail):
        view = HistoryView(tail)
    return view


def trim_to(messages: list[Message], seq: int, bound: int) -> list[Message] | None:
    """Drop (in place) the messages at or below seq ``bound`` from a tail ending at ``seq``;
    ``None`` if the tail does not reach down to ``bound``."""
    start = seq - len(messages)
    if start > bound:
        return None
    if bound > start:
        del messages[: bound - start]
    return messages
