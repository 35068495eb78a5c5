"""The in-memory session store: fast, per process, lost on restart.

Sessions live in one dict keyed by ``(agent_id, session_id)``. Turns on one session are
serialized by an ``asyncio.Lock`` that exists only while someone holds or waits for it, so
100,000 idle sessions cost no locks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import TracebackType

from ..listeners import Listeners
from ..messages import Message, pinned_count
from .base import (
    UNCHANGED,
    SessionEvent,
    SessionEventKind,
    SessionInfo,
    SessionListener,
    SessionRecord,
    utcnow,
)
from .keyed_locks import KeyedLocks

log = logging.getLogger(__name__)

Key = tuple[str, str]


class _Session:
    __slots__ = ("created_at", "expires_at", "messages", "summary", "updated_at")

    def __init__(self, now: datetime) -> None:
        self.messages: list[Message] = []
        self.summary: str | None = None
        self.created_at = now
        self.updated_at = now
        self.expires_at: datetime | None = None


def _expiry(now: datetime, ttl: float | None) -> datetime | None:
    return None if ttl is None else now + timedelta(seconds=ttl)


class MemoryTurn:
    """One turn's hold on a memory session (see :class:`~vel_runner.storage.base.SessionTurn`)."""

    __slots__ = ("_key", "_store", "_window", "history", "summary")

    def __init__(self, store: MemoryStore, key: Key, window: int | None) -> None:
        self._store = store
        self._key = key
        self._window = window
        self.history: list[Message] = []
        self.summary: str | None = None

    async def __aenter__(self) -> MemoryTurn:
        await self._store._locks.acquire(self._key)
        session = self._store._live(self._key)
        if session is not None:
            messages = session.messages
            window = self._window
            if window is None:
                self.history = messages[:]
            else:
                pinned = pinned_count(messages)
                start = max(pinned, len(messages) - window)
                self.history = messages[:pinned] + messages[start:] if pinned else messages[start:]
            self.summary = session.summary
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store._locks.release(self._key)

    async def commit(
        self,
        new_messages: Sequence[Message],
        *,
        keep: int | None = None,
        summary: str | None = UNCHANGED,
        ttl: float | None = None,
    ) -> None:
        store = self._store
        now = utcnow()
        session = store._live(self._key, now)
        kind: SessionEventKind = "updated"
        if session is None:
            session = store._sessions[self._key] = _Session(now)
            kind = "created"
        messages = session.messages
        messages.extend(new_messages)
        if keep is not None:
            pinned = pinned_count(messages)
            excess = len(messages) - pinned - keep
            if excess > 0:
                del messages[pinned : pinned + excess]
        if summary is not UNCHANGED:
            session.summary = summary
        session.updated_at = now
        session.expires_at = _expiry(now, ttl)
        store._emit(kind, self._key, len(messages))


class MemoryStore:
    """Sessions in a dict. The default store (``session_storage='memory'``)."""

    kind = "memory"

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self._sessions: dict[Key, _Session] = {}
        self._locks = KeyedLocks()
        self._listeners: Listeners[SessionEvent] = Listeners()

    # -- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    # -- internals -----------------------------------------------------------------------
    def _live(self, key: Key, now: datetime | None = None) -> _Session | None:
        """The session if it exists and has not expired; an expired one is removed."""
        session = self._sessions.get(key)
        if session is None or session.expires_at is None:
            return session
        if session.expires_at <= (now or utcnow()):
            del self._sessions[key]
            self._emit("expired", key, 0)
            return None
        return session

    def _emit(self, kind: SessionEventKind, key: Key, count: int) -> None:
        if not self._listeners:
            return
        self._listeners.emit(SessionEvent(kind, key[0], key[1], self.name, count))

    def _info(self, key: Key, session: _Session) -> SessionInfo:
        return SessionInfo(
            key[0],
            key[1],
            len(session.messages),
            session.created_at,
            session.updated_at,
            session.expires_at,
            self.name,
        )

    # -- turns ---------------------------------------------------------------------------
    def turn(self, agent_id: str, session_id: str, *, window: int | None = None) -> MemoryTurn:
        return MemoryTurn(self, (agent_id, session_id), window)

    # -- synchronous operations (the async ones below delegate to them) --------------------
    def get_sync(self, agent_id: str, session_id: str) -> SessionRecord | None:
        session = self._live((agent_id, session_id))
        if session is None:
            return None
        return SessionRecord(
            agent_id,
            session_id,
            [dict(m) for m in session.messages],
            session.summary,
            session.created_at,
            session.updated_at,
            session.expires_at,
        )

    def set_sync(
        self,
        agent_id: str,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: float | None = None,
    ) -> None:
        key = (agent_id, session_id)
        now = utcnow()
        session = self._live(key, now)
        kind: SessionEventKind = "updated"
        if session is None:
            session = self._sessions[key] = _Session(now)
            kind = "created"
        session.messages = [dict(m) for m in messages]
        session.summary = None
        session.updated_at = now
        session.expires_at = _expiry(now, ttl)
        self._emit(kind, key, len(session.messages))

    def clear_sync(self, agent_id: str, session_id: str) -> bool:
        key = (agent_id, session_id)
        existed = self._live(key) is not None
        if existed:
            del self._sessions[key]
            self._emit("cleared", key, 0)
        return existed

    def list_sync(
        self,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[SessionInfo]:
        now = utcnow()
        cutoff = None if inactive_for is None else now - timedelta(seconds=inactive_for)
        rows = []
        for key in sorted(self._sessions):
            if agent_id is not None and key[0] != agent_id:
                continue
            if after is not None and key <= after:
                continue
            session = self._live(key, now)
            if session is None or (cutoff is not None and session.updated_at >= cutoff):
                continue
            rows.append(self._info(key, session))
            if limit is not None and len(rows) >= limit:
                break
        return rows

    def delete_inactive_sync(self, older_than: float, agent_id: str | None = None) -> int:
        now = utcnow()
        cutoff = now - timedelta(seconds=older_than)
        doomed = [
            key
            for key, s in self._sessions.items()
            if (agent_id is None or key[0] == agent_id)
            and (s.updated_at < cutoff or (s.expires_at is not None and s.expires_at <= now))
        ]
        for key in doomed:
            del self._sessions[key]
            self._emit("cleared", key, 0)
        return len(doomed)

    # -- async protocol ------------------------------------------------------------------
    async def get(self, agent_id: str, session_id: str) -> SessionRecord | None:
        return self.get_sync(agent_id, session_id)

    async def set(
        self,
        agent_id: str,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: float | None = None,
    ) -> None:
        self.set_sync(agent_id, session_id, messages, ttl=ttl)

    async def clear(self, agent_id: str, session_id: str) -> bool:
        return self.clear_sync(agent_id, session_id)

    async def list(
        self,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[SessionInfo]:
        return self.list_sync(agent_id, inactive_for=inactive_for, after=after, limit=limit)

    async def delete_inactive(self, older_than: float, agent_id: str | None = None) -> int:
        return self.delete_inactive_sync(older_than, agent_id)

    def add_listener(self, listener: SessionListener) -> Callable[[], None]:
        return self._listeners.add(listener)
