"""The in-memory session store: fast, per process, lost on restart.

Sessions live in one dict keyed by ``(agent_id, session_id)``, least recently updated first.
Turns on one session are serialized by an ``asyncio.Lock`` that exists only while someone
holds or waits for it, so 100,000 idle sessions cost no locks.

A turn in flight holds its session, as with the database store: ``set`` and ``clear`` wait
for it, cleanup, the sweep and eviction skip it, and a session that expires while the model
answers is not dropped (the turn appends to what it read and renews the expiry).

The store is bounded: past ``max_sessions`` it evicts the least recently updated session
that is not in a turn (a cache's behaviour, which this store already has: it forgets
everything on restart). Refusing new sessions instead would let one client that invents
session ids lock every new user out until their sessions expire.

A second dict indexes stored messages by their ``id`` (:meth:`MemoryStore.find_message`,
:mod:`.message_ids`): an id stays with the session that stored it first; messages leave it
when they leave their session. A set keeps the sessions whose last messages may hold a
pending approval, so listing those reads them only. The listings of every session (cleanup,
sweep, approvals) are in :mod:`.memory_listing`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from types import TracebackType

from ..approvals import awaits_approval
from ..clock import Clock, utc_now
from ..errors import InvalidInputError, SessionConflictError
from ..listeners import Listeners
from ..messages import Message, pinned_count
from ..model_view import HistoryView
from .base import (
    UNCHANGED,
    HistoryEdit,
    MessageRef,
    SessionEvent,
    SessionEventKind,
    SessionListener,
    SessionRecord,
    TokenCounts,
)
from .keyed_locks import KeyedLocks
from .memory_listing import MemoryListings
from .message_ids import MessageIds

log = logging.getLogger(__name__)

Key = tuple[str, str]

#: ``max_sessions`` when none is given (the schema's default for ``type: memory`` stores).
DEFAULT_MAX_SESSIONS = 100_000


class _Session:
    __slots__ = ("created_at", "expires_at", "messages", "summary", "updated_at", "usage", "view")

    def __init__(self, now: datetime) -> None:
        self.messages: list[Message] = []
        #: The model's view of ``messages`` (built at the first full-history turn, extended
        #: by each commit). Whatever changes ``messages`` otherwise drops it.
        self.view: HistoryView | None = None
        self.summary: str | None = None
        self.created_at = now
        self.updated_at = now
        self.expires_at: datetime | None = None
        self.usage = (0, 0, 0)  # input tokens, output tokens, turns


def _expiry(now: datetime, ttl: float | None) -> datetime | None:
    return None if ttl is None else now + timedelta(seconds=ttl)


class MemoryTurn:
    """One turn's hold on a memory session (see :class:`~vel_runner.storage.base.SessionTurn`)."""

    __slots__ = ("_key", "_store", "_window", "history", "summary", "view")

    def __init__(self, store: MemoryStore, key: Key, window: int | None) -> None:
        self._store = store
        self._key = key
        self._window = window
        self.history: list[Message] = []
        self.summary: str | None = None
        #: The model's view of ``history`` (full-history turns; see :mod:`..model_view`).
        self.view: HistoryView | None = None

    async def __aenter__(self) -> MemoryTurn:
        await self._store._locks.acquire(self._key)
        session = self._store._live(self._key, holder=True)
        if session is not None:
            messages = session.messages
            window = self._window
            if window is None:
                self.history = messages[:]
                view = session.view
                if view is None or not (  # it mirrors the messages (see HistoryView.mirrors)
                    len(view) == len(messages) and (not messages or messages[-1] is view.last)
                ):
                    view = session.view = HistoryView(messages)
                self.view = view
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
        usage: TokenCounts = (0, 0),
    ) -> None:
        store = self._store
        now = store.clock()
        # What the turn read: nobody else changes or drops a session held by a turn, so
        # this is it even when it expired meanwhile (the commit renews its expiry).
        session = store._sessions.get(self._key)
        kind: SessionEventKind = "updated"
        if session is None:
            session = store._add(self._key, now)
            kind = "created"
        else:  # the most recently updated now (the end of the eviction order)
            del store._sessions[self._key]
            store._sessions[self._key] = session
        messages = session.messages
        messages.extend(new_messages)
        view = session.view
        if view is not None:  # checked when the turn began; nothing changed it since
            view.extend(new_messages)
        store._message_ids.add(new_messages, self._key)
        store._note_tail(self._key, messages)
        if keep is not None:
            pinned = pinned_count(messages)
            excess = len(messages) - pinned - keep
            if excess > 0:
                store._message_ids.remove(messages[pinned : pinned + excess], self._key)
                del messages[pinned : pinned + excess]
                session.view = None
        if summary is not UNCHANGED:
            session.summary = summary
        session.updated_at = now
        session.expires_at = None if ttl is None else now + timedelta(seconds=ttl)
        total_in, total_out, turns = session.usage
        session.usage = (total_in + usage[0], total_out + usage[1], turns + 1)
        store._emit(kind, self._key, len(messages))


class MemoryStore(MemoryListings):
    """Sessions in a dict. The default store (``session_storage='memory'``)."""

    kind = "memory"

    def __init__(
        self,
        name: str = "memory",
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Clock = utc_now,
    ) -> None:
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) or max_sessions < 1:
            raise InvalidInputError(f"max_sessions must be an integer >= 1, got {max_sessions!r}")
        self.name = name
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: dict[Key, _Session] = {}  # least recently updated first
        self._message_ids = MessageIds()
        self._awaiting: set[Key] = set()  # tails that may hold pending approvals
        self._locks = KeyedLocks()
        self._listeners: Listeners[SessionEvent] = Listeners()
        self._warned_full = False

    def __len__(self) -> int:
        return len(self._sessions)

    # -- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    # -- internals -----------------------------------------------------------------------
    def _live(
        self, key: Key, now: datetime | None = None, *, holder: bool = False
    ) -> _Session | None:
        """The session if it exists and has not expired. An expired one is removed, unless a
        turn holds it (``holder``: the caller is that turn, about to start afresh)."""
        session = self._sessions.get(key)
        if session is None or session.expires_at is None:
            return session
        if session.expires_at <= (now or self.clock()):
            if holder or not self._locks.busy(key):
                self._remove(key)
                self._emit("expired", key, 0)
            return None
        return session

    def _add(self, key: Key, now: datetime) -> _Session:
        """A new session (the most recent); evicts the least recently updated idle ones
        past ``max_sessions``."""
        session = self._sessions[key] = _Session(now)
        if len(self._sessions) > self.max_sessions:
            self._evict(key)
        return session

    def _touch(self, key: Key, session: _Session) -> None:
        """Mark ``session`` the most recently updated (the end of the eviction order)."""
        del self._sessions[key]
        self._sessions[key] = session

    def _evict(self, keep: Key) -> None:
        if not self._warned_full:
            self._warned_full = True
            log.warning(
                "memory store %r is full (max_sessions=%d): evicting the least recently "
                "updated idle sessions",
                self.name,
                self.max_sessions,
            )
        while len(self._sessions) > self.max_sessions:
            victim = next(
                (k for k in self._sessions if k != keep and not self._locks.busy(k)), None
            )
            if victim is None:
                return  # every other session is in a turn: evicted once those end
            self._remove(victim)
            self._emit("cleared", victim, 0)

    def _remove(self, key: Key) -> None:
        self._message_ids.remove(self._sessions.pop(key).messages, key)
        self._awaiting.discard(key)

    def _note_tail(self, key: Key, messages: Sequence[Message]) -> None:
        """Keep ``_awaiting`` (the sessions whose tail may hold a pending approval) current,
        so listing pending approvals reads those sessions, not all of them."""
        if awaits_approval(messages):
            self._awaiting.add(key)
        elif self._awaiting:
            self._awaiting.discard(key)

    def find_message_sync(self, message_id: str) -> MessageRef | None:
        key = self._message_ids.get(message_id)
        session = None if key is None else self._live(key)
        if key is None or session is None:
            return None
        return MessageRef(key[0], key[1], session.messages[-1].get("id") == message_id)

    async def find_message(self, message_id: str) -> MessageRef | None:
        """The session holding the message with this ``id`` (a dict lookup)."""
        return self.find_message_sync(message_id)

    async def find_messages(self, message_ids: Collection[str]) -> dict[str, MessageRef]:
        found = {i: self.find_message_sync(i) for i in message_ids}
        return {i: ref for i, ref in found.items() if ref is not None}

    def _check_idle(self, key: Key, operation: str) -> None:
        """The sync twins cannot wait for a turn (it runs on the loop they would block)."""
        if self._locks.busy(key):
            raise SessionConflictError(
                f"session {key[1]!r} of agent {key[0]!r} is in a turn: a synchronous "
                f"{operation} cannot wait for it; await the async method instead"
            )

    def _replace(
        self, key: Key, messages: Sequence[Message], ttl: float | None, *, edit: bool = False
    ) -> None:
        """Put ``messages`` in place of the session's; ``set`` drops the summary, an ``edit``
        keeps it."""
        now = self.clock()
        session = self._live(key, now, holder=True)
        kind: SessionEventKind = "updated"
        if session is None:
            session = self._add(key, now)
            kind = "created"
        else:
            self._touch(key, session)
        self._message_ids.remove(session.messages, key)
        session.messages = [dict(m) for m in messages]
        session.view = None
        self._message_ids.add(session.messages, key)
        self._note_tail(key, session.messages)
        if not edit:
            session.summary = None
        session.updated_at = now
        session.expires_at = _expiry(now, ttl)
        self._emit(kind, key, len(session.messages))

    def _drop(self, key: Key) -> bool:
        existed = self._live(key, holder=True) is not None
        if existed:
            self._remove(key)
            self._emit("cleared", key, 0)
        return existed

    def _emit(self, kind: SessionEventKind, key: Key, count: int) -> None:
        if not self._listeners.any:
            return
        self._listeners.emit(SessionEvent(kind, key[0], key[1], self.name, count, self.clock()))

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
            *session.usage,
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
        self._check_idle(key, "set")
        self._replace(key, messages, ttl)

    def clear_sync(self, agent_id: str, session_id: str) -> bool:
        key = (agent_id, session_id)
        self._check_idle(key, "clear")
        return self._drop(key)

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
        async with self._locks.hold((agent_id, session_id)):  # after the turn in flight
            self._replace((agent_id, session_id), messages, ttl)

    async def edit(
        self,
        agent_id: str,
        session_id: str,
        change: HistoryEdit,
        *,
        ttl: float | None = None,
    ) -> list[Message] | None:
        key = (agent_id, session_id)
        async with self._locks.hold(key):  # after the turn in flight, before the next
            session = self._live(key, holder=True)
            if session is None:
                return None
            kept = [dict(m) for m in change([dict(m) for m in session.messages])]
            if kept != session.messages:
                self._replace(key, kept, ttl, edit=True)
            return kept

    async def clear(self, agent_id: str, session_id: str) -> bool:
        async with self._locks.hold((agent_id, session_id)):  # after the turn in flight
            return self._drop((agent_id, session_id))

    def add_listener(self, listener: SessionListener) -> Callable[[], None]:
        return self._listeners.add(listener)
