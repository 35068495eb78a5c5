"""The session events of one PostgreSQL store: this process's changes and, through
LISTEN/NOTIFY (:class:`~.pg_events.NotifyRelay`), those of every other process on the database.

Listeners run on the store's loop thread: a change made by a sync twin in another thread is
handed over with ``call_soon_threadsafe``. The LISTEN connection starts with the first
listener (or when the store opens with listeners already added), never before it is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..errors import StoreUnavailableError
from ..listeners import Listeners
from .base import SessionEvent, SessionEventKind, SessionListener
from .pg_cache import Key
from .pg_events import NotifyRelay
from .pg_plan import Plan
from .pg_run import Rows


class SessionEvents:
    """Listeners of one store, the loop they run on, and the relay of other processes'
    events. ``dsn()`` may raise :class:`StoreUnavailableError` while no DSN is set."""

    def __init__(
        self, store_name: str, origin: str, dsn: Callable[[], str], connect_timeout: float
    ) -> None:
        self.store_name = store_name
        self.origin = origin
        self.connect_timeout = connect_timeout
        #: The LISTEN connection (``None`` until the first listener on a running loop).
        self.relay: NotifyRelay | None = None
        self._dsn = dsn
        self._listeners: Listeners[SessionEvent] = Listeners()
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, listener: SessionListener) -> Callable[[], None]:
        """Deliver every change to ``listener``; returns the function that removes it."""
        remove = self._listeners.add(listener)
        self.start_relay()
        return remove

    def opened(self) -> None:
        """The store opened on the running loop: events go to it; the relay starts if anyone
        listens already."""
        self._loop = asyncio.get_running_loop()
        if self._listeners:
            self.start_relay()

    def start_relay(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
            dsn = self._dsn()
        except (RuntimeError, StoreUnavailableError):
            return  # no loop here, or no DSN yet: open() starts it (or reports the DSN)
        if self.relay is None:
            self.relay = NotifyRelay(
                dsn, self.origin, self._deliver, connect_timeout=self.connect_timeout
            )
        self.relay.start()

    async def heard(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until other processes' changes reach the listeners:
        a NOTIFY sent before the LISTEN connection is up is never delivered."""
        return self.relay is not None and await self.relay.heard(timeout)

    async def stop(self) -> None:
        """Stop the relay (the store is closing). Listeners stay: a reopen restarts it."""
        if self.relay is not None:
            await self.relay.stop()
            self.relay = None

    def emit(self, kind: SessionEventKind, key: Key, count: int) -> None:
        """This process changed session ``key``: tell the listeners, on the loop's thread."""
        if not self._listeners:
            return
        loop = self._loop
        if loop is not None and loop.is_running() and not _on_loop_thread(loop):
            loop.call_soon_threadsafe(self._deliver, kind, key[0], key[1], count)
        else:
            self._deliver(kind, key[0], key[1], count)

    def written(self, key: Key, plan: Plan) -> None:
        """A write ran: ``expired`` first if it replaced an expired session, then its kind."""
        if plan.expired:
            self.emit("expired", key, 0)
        self.emit(plan.kind, key, plan.message_count)

    def cleared(self, key: Key, rows: Rows) -> bool:
        """A clear ran (``rows``: what it found): ``cleared`` if the session was live,
        ``expired`` if it had expired; ``True`` when it was live."""
        live = bool(rows and rows[0][0])
        if rows:
            self.emit("cleared" if live else "expired", key, 0)
        return live

    def deleted(self, rows: Rows, kind: SessionEventKind = "cleared") -> int:
        """Cleanup or the sweep deleted these ``(agent, session, _)`` rows; count them."""
        for agent_id, session_id, _ in rows:
            self.emit(kind, (agent_id, session_id), 0)
        return len(rows)

    def _deliver(self, kind: str, agent_id: str, session_id: str, count: int) -> None:
        event = SessionEvent(kind, agent_id, session_id, self.store_name, count)  # type: ignore[arg-type]
        self._listeners.emit(event)


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


__all__ = ["SessionEvents"]
