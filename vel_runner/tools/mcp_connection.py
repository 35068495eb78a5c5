"""The connection to one MCP server (a stdio subprocess or streamable HTTP), via the ``mcp`` SDK.

One long-lived connection per server, owned by one task (:meth:`MCPConnection.open` starts it):
that task enters and leaves the SDK's transport and session contexts, so their anyio cancel
scopes never cross tasks. Requests from any task go through the session's message streams.

- **Down is not fatal.** When the server dies or drops the session, the owner reconnects with
  exponential backoff; a request that meets the server down triggers an attempt at once
  (:mod:`.mcp_attempts`) and fails with the reason if it fails, so a server that comes back
  is used at the next call, not at the end of a backoff.
- **Busy is not dead.** An idle connection is pinged; a ping that times out while requests are
  in flight or while messages keep arriving is not a death (:mod:`.mcp_liveness`).
- **No orphans.** Closing lets the SDK's own bounded stdio shutdown run to its end (stdin
  closed, SIGTERM to the process group, then SIGKILL); it is never cancelled half way. A start
  still under way is cut short with one cancellation, which unwinds into that same shutdown.
- **Bounded noise**: relists are coalesced (:mod:`.mcp_relist`), failures logged by incident
  (:mod:`.mcp_incidents`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from ..durations import parse_duration
from ..redact import redact
from .base import ToolCallError
from .mcp_attempts import Attempts
from .mcp_failures import breaks_connection, call_failure, connect_failure, secrets_of, transport_of
from .mcp_incidents import Incidents
from .mcp_liveness import hold
from .mcp_relist import Relister
from .mcp_transport import list_all_tools, open_session, session_gone
from .mcp_watch import EndWatch

log = logging.getLogger("vel_runner.tools.mcp")

T = TypeVar("T")

#: ``connect_timeout`` when a declaration does not say: Python servers started six at once on
#: two cores took more than 10 s.
DEFAULT_CONNECT_TIMEOUT = "30s"
#: Seconds between reconnect attempts: doubles from the first to the last.
BACKOFF = (0.1, 10.0)
#: Seconds between liveness pings of an idle connection.
PING_INTERVAL = 5.0
#: Seconds :meth:`MCPConnection.aclose` waits for the owner to leave. It covers the SDK's own
#: stdio shutdown (stdin closed, 2 s, SIGTERM to the group, 2 s, SIGKILL, 2 s) so that is
#: never cut short; only an HTTP close that hangs runs into it.
CLOSE_TIMEOUT = 10.0


class MCPConnection:
    """One server's connection: its owner task, its state, and requests over it.

    ``on_tools`` receives the server's whole tool list (by its own names) on every connect
    and relist.
    """

    def __init__(
        self, name: str, decl: Mapping[str, Any], on_tools: Callable[[dict[str, Any]], None]
    ) -> None:
        self.name = name
        self.decl = dict(decl)
        self.connect_timeout = parse_duration(decl.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        self.ping_interval = PING_INTERVAL
        self.backoff = BACKOFF
        #: ``connecting``, ``connected``, ``down`` (the last attempt failed) or ``closed``.
        self.state = "connecting"
        #: Why the server is not connected (``None`` while it is); never holds a secret.
        self.error: str | None = "not connected yet"
        #: Connection attempts made, and tool listings made (a flood of list_changed shows here).
        self.attempts = 0
        self.listings = 0
        #: Requests (and tool listings) under way: a busy server is not pinged.
        self.in_flight = 0
        self._on_tools = on_tools
        self._session: Any = None
        self._watch: EndWatch | None = None
        self._broken = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._attempts = Attempts()
        self._deadline: asyncio.Timeout | None = None
        self._incidents = Incidents(name)
        self._relister = Relister(name, self._list_again)

    @property
    def transport(self) -> str:
        return transport_of(self.decl)

    @property
    def session(self) -> Any:
        """The SDK's ``ClientSession`` while connected (``None`` otherwise)."""
        return self._session

    def secrets(self) -> list[str]:
        """Header and env values, credentials in the url: never shown."""
        return secrets_of(self.decl)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets())

    @property
    def received(self) -> int:
        """Messages the server sent on this connection (its sign of life between pings)."""
        return self._watch.received if self._watch is not None else 0

    @property
    def relisting(self) -> bool:
        """Is a tool listing (after list_changed) under way?"""
        return self._relister.running

    def unavailable(self) -> str | None:
        """Why the server cannot be used now (``None``: connected, or reconnecting after a
        drop, which requests wait for)."""
        if self._session is not None or self.error is None:
            return None
        return f"MCP server {self.name!r} is not connected: {self.error}"

    # -- requests -----------------------------------------------------------------------------
    async def request(self, send: Callable[[Any], Awaitable[T]], timeout: float, what: str) -> T:
        """``send(session)`` on the live session, bounded by ``timeout`` (the wait for a
        reconnect included). A server that restarted while idle ("Session not found": it did
        not run the request) gets it once more on a new session. Failures raise
        :class:`ToolCallError` with a redacted reason; a broken connection is reconnected."""
        from mcp import MCPError

        session: Any = None
        self.in_flight += 1
        try:
            async with asyncio.timeout(timeout):
                session = await self._live_session()
                try:
                    return await send(session)
                except MCPError as exc:
                    if not session_gone(exc):
                        raise
                    self.lost(session)
                    session = await self._live_session()
                    return await send(session)
        except (MCPError, OSError, EOFError) as exc:  # OSError: TimeoutError too
            if breaks_connection(exc):
                self.lost(session)
            not_connected = None if session is not None else str(self.error)
            raise call_failure(exc, self.name, self.decl, what, timeout, not_connected) from None
        finally:
            self.in_flight -= 1

    async def _live_session(self) -> Any:
        """The session, after waiting for an attempt under way (or one this call starts when
        the server is down)."""
        if self._task is None:
            state = "closed" if self.state == "closed" else "not opened"
            raise ToolCallError(f"MCP server {self.name!r} is {state}")
        if self._session is None:
            if self.state == "down":
                self._attempts.hurry()  # try now rather than at the end of the backoff
            waiting = self.state == "connecting" or self._attempts.hurried or self.error is None
            if waiting:
                await self._attempts.wait(self.connect_timeout)
        session = self._session
        if session is None:
            raise ToolCallError(f"MCP server {self.name!r} is not connected: {self.error}")
        return session

    def lost(self, session: Any) -> None:
        """The connection broke under a request: the owner reconnects, requests wait."""
        if session is not None and self._session is session:
            self._session = None
        self._broken.set()

    def _ended(self) -> None:
        """The server's message stream ended (a stdio server exited): reconnect now."""
        if not self._stop.is_set():
            self._session = None
            self._broken.set()

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Start the owner task; return after its first attempt (bounded by
        ``connect_timeout``). Never raises: a server that fails keeps being retried and
        :attr:`error` says why."""
        if self._task is not None:
            return
        self._stop.clear()
        self.state, self.error = "connecting", "not connected yet"
        self._attempts.first()
        self._task = asyncio.get_running_loop().create_task(self._own(), name=f"mcp-{self.name}")
        await self._attempts.wait(self.connect_timeout + 1)

    async def aclose(self) -> None:
        """Close the connection (stop the subprocess and its group / end the HTTP session).

        Idempotent. The owner leaves the SDK contexts itself; a start under way is cut short
        once; the SDK's shutdown is then awaited, not cancelled (that would leave the server
        running). The caller's own cancellation is never swallowed.
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        self.state, self.error = "closed", "closed"
        if self._deadline is not None:  # connecting: one cancellation, into the SDK's shutdown
            self._deadline.reschedule(asyncio.get_running_loop().time())
        self._relister.cancel()
        done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=2.0)
            if not done:
                log.warning("MCP server %r did not close in time; left behind", self.name)
        self._end_attempt()

    async def probe(self) -> dict[str, Any]:
        """Connect, list the tools, disconnect (``validate --connect``, ``vel-runner tools``).

        Raises :class:`ToolCallError` with a redacted reason when the server cannot be used.
        """
        try:
            async with contextlib.AsyncExitStack() as stack:
                async with asyncio.timeout(self.connect_timeout):
                    session = await self._connect(stack)
                    return await list_all_tools(session)
        except Exception as exc:
            raise ToolCallError(self.reason(exc)) from None

    async def _own(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            self.state = "connecting"
            self.attempts += 1
            self._attempts.began()
            up = False
            try:
                async with contextlib.AsyncExitStack() as stack:
                    session = await self._start(stack)
                    up = True
                    if not self._up(session):
                        delay = self.backoff[0]
                    await self._serve(session)
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._incidents.ended()
                self._failed(self.reason(exc))
            finally:
                self._session = self._watch = None
                if not up:
                    self._end_attempt()  # a failed attempt: wake the requests waiting for it
            if self._stop.is_set():
                break
            await self._attempts.pause(delay, self._stop)
            delay = min(delay * 2, self.backoff[1])
        self._end_attempt()

    async def _start(self, stack: contextlib.AsyncExitStack) -> Any:
        """Connect and list the tools within ``connect_timeout`` (which :meth:`aclose` may
        cut short). The SDK contexts live on ``stack``, outside the timeout, so their
        shutdown is never the part that gets cancelled."""
        try:
            async with asyncio.timeout(self.connect_timeout) as deadline:
                self._deadline = deadline
                session = await self._connect(stack)
                listed = await list_all_tools(session)
        finally:
            self._deadline = None
        self.listings += 1
        self._relister.listed()
        self._on_tools(listed)
        return session

    def _up(self, session: Any) -> bool:
        """Connected: publish the session. ``True`` when the server is flapping (its last
        connection broke soon after it was made), which keeps the backoff down."""
        self._session, self.error, self.state = session, None, "connected"
        self._broken.clear()
        self._attempts.connected()
        flapping = self._incidents.up(self.attempts)
        self._end_attempt()
        return flapping

    def _failed(self, reason: str) -> None:
        self.state, self.error = "down", reason
        message = f"MCP server {self.name!r} is down: {reason} (retrying)"
        self._incidents.failure(message, reason, self.attempts)

    def _end_attempt(self) -> None:
        """Wake whoever waits for the attempt that just ended (more follow while open)."""
        self._attempts.ended(more=self._task is not None)

    async def _serve(self, session: Any) -> None:
        """Hold the connection until it breaks or :meth:`aclose` (:mod:`.mcp_liveness`)."""
        if await hold(self, session, self._stop, self._broken):
            self._incidents.ended()
            lost = f"MCP server {self.name!r}: connection lost, reconnecting"
            self._incidents.failure(lost, "lost", self.attempts)

    # -- the SDK -----------------------------------------------------------------------------
    async def _connect(self, stack: contextlib.AsyncExitStack) -> Any:
        session, self._watch = await open_session(self.decl, stack, self._on_message, self._ended)
        return session

    async def _on_message(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            self._relister.notify()

    async def _list_again(self) -> bool:
        """One listing after list_changed (``False``: not connected, or it failed)."""
        session = self._session
        if session is None:
            return False
        self.in_flight += 1
        try:
            async with asyncio.timeout(self.connect_timeout):
                listed = await list_all_tools(session)
        except Exception as exc:
            log.debug("MCP server %r: listing tools failed: %s", self.name, self.reason(exc))
            return False
        finally:
            self.in_flight -= 1
        self.listings += 1
        self._on_tools(listed)
        return True

    def reason(self, exc: BaseException) -> str:
        """A short, redacted reason for a failed connection (:mod:`.mcp_failures`)."""
        return connect_failure(exc, self.name, self.decl, self.connect_timeout)


__all__ = ["DEFAULT_CONNECT_TIMEOUT", "MCPConnection"]
