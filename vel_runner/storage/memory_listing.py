"""The memory store's listings: what the cleanup tools, the sweep and the dashboard read of
all of its sessions (the live ones, those inactive for a while, the expired ones to delete,
the approvals waiting in them), apart from what serves one session's turns
(:mod:`.memory`). :class:`MemoryListings` is a base of
:class:`~vel_runner.storage.memory.MemoryStore`; :class:`ListingStore` says what it reads.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..approvals import PendingApproval, pending
from ..clock import Clock
from .base import SessionEventKind, SessionInfo
from .keyed_locks import KeyedLocks

Key = tuple[str, str]


class ListingStore(Protocol):
    """What the listings read of the memory store."""

    name: str
    clock: Clock
    _sessions: dict[Key, Any]
    _awaiting: set[Key]
    _locks: KeyedLocks

    def _live(self, key: Key, now: datetime | None = None, *, holder: bool = False) -> Any: ...

    def _remove(self, key: Key) -> None: ...

    def _emit(self, kind: SessionEventKind, key: Key, count: int) -> None: ...

    def _info(self, key: Key, session: Any) -> SessionInfo: ...

    def _delete_where(
        self, agent_id: str | None, doomed: Callable[[Any], bool], kind: SessionEventKind
    ) -> int: ...

    def list_sync(
        self,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> builtins.list[SessionInfo]: ...

    def delete_inactive_sync(self, older_than: float, agent_id: str | None = None) -> int: ...

    def sweep_sync(self) -> int: ...


class MemoryListings:
    """The listings of :class:`~vel_runner.storage.memory.MemoryStore` (a base class)."""

    __slots__ = ()

    def list_sync(
        self: ListingStore,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> builtins.list[SessionInfo]:
        now = self.clock()
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

    def delete_inactive_sync(
        self: ListingStore, older_than: float, agent_id: str | None = None
    ) -> int:
        now = self.clock()
        cutoff = now - timedelta(seconds=older_than)

        def doomed(s: Any) -> bool:
            return s.updated_at < cutoff or (s.expires_at is not None and s.expires_at <= now)

        return self._delete_where(agent_id, doomed, "cleared")

    def sweep_sync(self: ListingStore) -> int:
        """Delete the expired sessions no turn holds (``expired`` events); count them."""
        now = self.clock()
        return self._delete_where(
            None, lambda s: s.expires_at is not None and s.expires_at <= now, "expired"
        )

    async def list(
        self: ListingStore,
        agent_id: str | None = None,
        *,
        inactive_for: float | None = None,
        after: tuple[str, str] | None = None,
        limit: int | None = None,
    ) -> builtins.list[SessionInfo]:
        return self.list_sync(agent_id, inactive_for=inactive_for, after=after, limit=limit)

    async def delete_inactive(
        self: ListingStore, older_than: float, agent_id: str | None = None
    ) -> int:
        return self.delete_inactive_sync(older_than, agent_id)

    async def sweep(self: ListingStore) -> int:
        return self.sweep_sync()

    async def pending_approvals(
        self: ListingStore, agent_id: str | None = None
    ) -> builtins.list[PendingApproval]:
        """The approvals waiting in live sessions (only tails that can hold one are read)."""
        now = self.clock()
        found = [
            PendingApproval(key[0], key[1], approval, session.expires_at)
            for key in sorted(self._awaiting)
            if (agent_id is None or key[0] == agent_id)
            and (session := self._sessions.get(key)) is not None
            and (session.expires_at is None or session.expires_at > now)
            for approval in pending(session.messages)
        ]
        return found

    def _delete_where(
        self: ListingStore,
        agent_id: str | None,
        doomed: Callable[[Any], bool],
        kind: SessionEventKind,
    ) -> int:
        """Delete the sessions ``doomed`` selects, except those in a turn; count them."""
        keys = [
            key
            for key, session in self._sessions.items()
            if (agent_id is None or key[0] == agent_id)
            and doomed(session)
            and not self._locks.busy(key)
        ]
        for key in keys:
            self._remove(key)
            self._emit(kind, key, 0)
        return len(keys)

    def _info(self: ListingStore, key: Key, session: Any) -> SessionInfo:
        return SessionInfo(
            key[0],
            key[1],
            len(session.messages),
            session.created_at,
            session.updated_at,
            session.expires_at,
            self.name,
            *session.usage,
        )
