"""The session store protocol every backend implements.

A store keeps, per ``(agent_id, session_id)``, an ordered list of chat messages, an optional
running summary and three times (created, updated, expires). The agent talks to it only
through this protocol, so a new backend plugs in without touching the agent.

Turn flow: ``async with store.turn(agent, sid, window=N) as turn`` serializes turns on one
session (per process for memory, across processes for the database), exposes what the turn
needs to read (``turn.history``: at most the last ``window`` messages; ``turn.summary``), and
``await turn.commit(...)`` appends the new messages atomically. Leaving the block without
committing stores nothing.

History edits (delete a response, drop an answer to regenerate it): ``await store.edit(agent,
sid, change)`` holds the session exactly as a turn does, reads what is stored at that moment,
and replaces it with ``change(messages)`` in one write. An edit computed from an earlier read
and written with ``set`` would lose the turns that landed in between, or apply twice.

System prompts are pinned: the *leading* system messages of a session (a system prompt set
with ``set_session_context``) are always part of ``turn.history`` and never trimmed;
``window`` and ``keep`` count only the messages after them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from ..clock import utc_now
from ..messages import Message

#: Marker for ``commit(summary=...)``: leave the stored summary as it is.
UNCHANGED: Any = type("Unchanged", (), {"__repr__": lambda self: "UNCHANGED"})()

#: ``(input_tokens, output_tokens)`` of one turn, added to its session's sums on commit.
TokenCounts = tuple[int, int]

SessionEventKind = Literal["created", "updated", "cleared", "expired"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One row of a session listing: what the cleanup tools and the dashboard show."""

    agent_id: str
    session_id: str
    message_count: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    store: str
    #: Token usage summed over the session's stored turns (0 for sessions older than it).
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class SessionRecord:
    """A whole session: its messages, summary and times."""

    agent_id: str
    session_id: str
    messages: list[Message]
    summary: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """A change to one session, pushed to listeners (the server's ``/v1/events``)."""

    kind: SessionEventKind
    agent_id: str
    session_id: str
    store: str
    message_count: int = 0
    at: datetime = field(default_factory=utc_now)


SessionListener = Callable[[SessionEvent], None]

#: ``store.edit``'s change: the stored messages (copies, oldest first) -> the messages to keep.
HistoryEdit = Callable[[list[Message]], Sequence[Message]]


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a stored message is: its session, and whether it is the session's last message."""

    agent_id: str
    session_id: str
    latest: bool


@runtime_checkable
class MessageIndex(Protocol):
    """A store that finds a stored message by its ``id`` through an index, not a scan (both
    packaged stores; the Responses API's ``previous_response_id`` needs it)."""

    async def find_message(self, message_id: str) -> MessageRef | None:
        """The live message with this ``id``, or ``None``."""
        ...

    async def find_messages(self, message_ids: Collection[str]) -> dict[str, MessageRef]:
        """:meth:`find_message` for many ids at once (one lookup); the ids found."""
        ...


class SessionTurn(Protocol):
    """What one turn reads from, and writes to, its session while it holds the session.

    A store may also offer ``view``: the model's view of ``history``
    (:class:`~vel_runner.model_view.HistoryView`) kept across turns, so that a full-history
    turn need not walk the history to build the model's request (both packaged stores do).
    """

    #: Stored messages the turn sees: all of them, or the leading system messages plus the
    #: last ``window`` others when a window was given.
    history: list[Message]
    #: The running summary of messages that fell out of the window (``summarize=True``).
    summary: str | None

    async def commit(
        self,
        new_messages: Sequence[Message],
        *,
        keep: int | None = None,
        summary: str | None = UNCHANGED,
        ttl: float | None = None,
        usage: TokenCounts = (0, 0),
    ) -> None:
        """Append ``new_messages`` atomically, then keep only the last ``keep`` messages
        (not counting the pinned leading system messages, which always stay).

        ``summary`` replaces the stored summary unless it is ``UNCHANGED``; ``ttl`` (seconds)
        sets ``expires_at = now + ttl`` (``None``: no expiry). ``usage`` (input, output
        tokens) is added to the session's sums, and its turn count grows by one.
        """
        ...


@runtime_checkable
class SessionStore(Protocol):
    """An async session store. ``kind`` is its type name (``memory``, ``database``)."""

    kind: str
    #: The name it is declared under in agents.yaml (defaults to ``kind``).
    name: str

    async def open(self) -> None:
        """Connect / prepare. Idempotent; the agent calls it before first use."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...

    async def ping(self) -> None:
        """Raise :class:`~vel_runner.errors.StoreUnavailableError` if the store is unreachable."""
        ...

    def turn(
        self, agent_id: str, session_id: str, *, window: int | None = None
    ) -> AbstractAsyncContextManager[SessionTurn]:
        """Hold the session for one turn (serialized with other turns on it)."""
        ...

    async def get(self, agent_id: str, session_id: str) -> SessionRecord | None:
        """The whole session, or ``None`` when it does not exist or has expired."""
        ...

    async def set(
        self,
        agent_id: str,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: float | None = None,
    ) -> None:
        """Replace the session's messages (and drop its summary); create it if missing."""
        ...

    async def edit(
        self,
        agent_id: str,
        session_id: str,
        change: HistoryEdit,
        *,
        ttl: float | None = None,
    ) -> builtins.list[Message] | None:
        """Replace the session's messages with ``change(messages)``, atomically, inside the
        session's turn lock (after the turn in flight, before the next one), from what is
        stored at that moment.

        ``change`` runs under the lock, so it must be quick and do no I/O; if it raises,
        nothing is written and the exception propagates. When it returns the messages
        unchanged nothing is written either. A write keeps the summary and the token sums
        and sets ``expires_at`` from ``ttl`` as ``set`` does. Returns the messages stored
        afterwards, or ``None`` (``change`` not called) when the session does not exist.
        """
        ...

    async def clear(self, agent_id: str, session_id: str) -> bool:
        """Delete the session; ``True`` when there was one."""
        ...

    async def list(
        self,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> list[SessionInfo]:
        """Live (unexpired) sessions ordered by ``(agent_id, session_id)``.

        ``inactive_for`` (seconds) keeps those not updated for that long; ``after`` is the
        ``(agent_id, session_id)`` to continue after (keyset pagination).
        """
        ...

    async def delete_inactive(self, older_than: float, agent_id: str | None = None) -> int:
        """Delete sessions not updated for ``older_than`` seconds, and expired ones; count them."""
        ...

    async def sweep(self) -> int:
        """Delete expired sessions (``expired`` events) and count them: what ``serve`` runs on
        a schedule so that stores do not grow. Sessions in a turn are skipped; the database
        store lets one process sweep at a time (the others delete nothing)."""
        ...

    # Synchronous twins, for the spec's synchronous ``agent.ctxmgr`` methods. They must work
    # from plain synchronous code; called on an event loop's thread they block that loop, so
    # async code uses the async methods above.
    def get_sync(self, agent_id: str, session_id: str) -> SessionRecord | None: ...

    def set_sync(
        self,
        agent_id: str,
        session_id: str,
        messages: Sequence[Message],
        *,
        ttl: float | None = None,
    ) -> None: ...

    def clear_sync(self, agent_id: str, session_id: str) -> bool: ...

    def list_sync(
        self, agent_id: str | None = None, *, inactive_for: float | None = None
    ) -> builtins.list[SessionInfo]: ...

    def delete_inactive_sync(self, older_than: float, agent_id: str | None = None) -> int: ...

    def add_listener(self, listener: SessionListener) -> Callable[[], None]:
        """Call ``listener`` on every session change; returns a function that removes it.

        Listeners run on the event loop and must not block. The database store also
        delivers changes made by other processes (LISTEN/NOTIFY).
        """
        ...
