"""Session events from other processes, through PostgreSQL LISTEN/NOTIFY.

Every write of the database store sends ``pg_notify('vel_sessions', payload)`` in the same
transaction, so a notification exists exactly when the change committed. A relay LISTENs on a
connection of its own (started only once someone registers a listener), turns the payloads
into :class:`~vel_runner.storage.base.SessionEvent` and reconnects after an outage. Payloads
carrying this store's own origin token are skipped: those events were delivered locally.

:class:`PgListener` is the LISTEN loop itself, for any channel (chat answers in flight use
one too: :mod:`.pg_chat_runs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

from ..redact import describe_dsn, dsn_secrets, error_text
from .pg_sql import CHANNEL

log = logging.getLogger(__name__)

KINDS = frozenset({"created", "updated", "cleared", "expired"})
#: Longest a stop waits on a LISTEN that did not take its cancellation (seconds).
WAKE_INTERVAL = 1.0


class PgListener:
    """A background task that LISTENs on ``channel`` and hands each payload to ``handle``
    (on the event loop; it must not block), reconnecting after an outage."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        handle: Callable[[str], None],
        *,
        what: str,
        connect_timeout: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._handle = handle
        self._what = what
        self._connect_timeout = max(1, round(connect_timeout))
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Set each time the relay is listening (tests wait on it after an outage).
        self.listening = asyncio.Event()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._stopping = False
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name=f"vel-pg-listen-{self._channel}")

    async def heard(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the channel is LISTENed to: a NOTIFY sent
        before that is never delivered. ``False``: not listening by then."""
        try:
            await asyncio.wait_for(self.listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            # the flag too: a driver may swallow the cancellation of a wait, or turn it into
            # an error the loop below would take for an outage and retry
            self._stopping = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        import psycopg

        backoff = 0.1
        while not self._stopping:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=self._connect_timeout
                )
                async with conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    self.listening.set()
                    backoff = 0.1
                    while not self._stopping:
                        # wake up now and then: some psycopg 3.2 releases swallow a
                        # cancellation inside notifies(), so stop() also sets the flag
                        async for notify in conn.notifies(timeout=WAKE_INTERVAL):
                            self._handle(notify.payload)
            except psycopg.Error as exc:
                if self._stopping:
                    return
                log.warning(
                    "%s: lost LISTEN connection to %s (%s); retrying",
                    self._what,
                    describe_dsn(self._dsn),
                    error_text(exc, dsn_secrets(self._dsn)),
                )
            self.listening.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)


class NotifyRelay(PgListener):
    """LISTENs on the session channel and hands foreign events to ``deliver``."""

    def __init__(
        self,
        dsn: str,
        origin: str,
        deliver: Callable[[str, str, str, int], None],
        *,
        connect_timeout: float = 5.0,
        max_backoff: float = 5.0,
    ) -> None:
        super().__init__(
            dsn,
            CHANNEL,
            self._session_event,
            what="session events",
            connect_timeout=connect_timeout,
            max_backoff=max_backoff,
        )
        self._origin = origin
        self._deliver = deliver

    def _session_event(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            if data.get("o") == self._origin or data.get("k") not in KINDS:
                return
            self._deliver(data["k"], str(data["a"]), str(data["s"]), int(data.get("n") or 0))
        except Exception:  # a malformed payload or a broken listener must not stop the relay
            log.exception("session events: could not deliver %r", payload[:200])
