"""An MCP server as a tool source (stdio subprocess or streamable HTTP), via the ``mcp`` SDK.

One long-lived connection per server, owned by one task (:meth:`MCPSource.open` starts it):
that task enters and leaves the SDK's transport and session contexts, so their anyio cancel
scopes never cross tasks. Calls from any task go through the session's message streams (the
SDK's queue to that connection). When the server dies or drops the session, the owner task
reconnects with exponential backoff and lists the tools again; a call in flight gets an error
result, later calls wait (up to ``connect_timeout``) for the connection to come back.
``notifications/tools/list_changed`` refreshes the tool list.

``mcp`` is imported only when a connection is made: a config that declares an MCP server
still validates offline without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..durations import parse_duration
from ..redact import credentials_in, redact
from .base import DEFAULT_TIMEOUT, ToolCallError, ToolSpec
from .mcp_results import result_value
from .mcp_watch import EndWatch

log = logging.getLogger("vel_runner.tools.mcp")

#: A tool name the chat completions API accepts.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Seconds between reconnect attempts: doubles from the first to the last.
BACKOFF = (0.1, 10.0)
INSTALL = "pip install 'vel-runner[mcp]'"
#: Seconds between liveness pings of an idle connection.
PING_INTERVAL = 5.0
#: Seconds :meth:`MCPSource.aclose` waits for the connection to end, then again once cancelled.
CLOSE_TIMEOUT = 5.0


#: What the SDK's HTTP client reports when the server no longer knows the session (HTTP 404):
#: the request was refused unrun, so it is safe to make again on a new session.
SESSION_GONE = frozenset({"Session not found", "Session terminated"})


def _session_gone(exc: Any) -> bool:
    from mcp_types import INVALID_REQUEST

    return bool(exc.code == INVALID_REQUEST and exc.message in SESSION_GONE)


def matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


class MCPSource:
    """The tools of one MCP server (filtered by ``allow``/``deny``, renamed with ``prefix``)."""

    def __init__(self, name: str, decl: Mapping[str, Any]) -> None:
        self.name = name
        self.decl = dict(decl)
        self.allow: list[str] | None = list(decl["allow"]) if "allow" in decl else None
        self.deny: list[str] = list(decl.get("deny", ()))
        self.prefix: str = decl.get("prefix", "")
        self.timeout = parse_duration(decl.get("timeout", DEFAULT_TIMEOUT))
        self.connect_timeout = parse_duration(decl.get("connect_timeout", "10s"))
        #: Why the server is not connected (``None`` while it is); never holds a secret.
        self.error: str | None = "not connected yet"
        #: Every tool the server listed (unfiltered), by its own name.
        self.listed: dict[str, Any] = {}
        #: Bumped whenever the tool list changes (the toolbox rebuilds its index).
        self.tools_version = 0
        self._specs: dict[str, tuple[str, ToolSpec]] = {}  # exposed name -> (server name, spec)
        self._session: Any = None
        self._connected = asyncio.Event()
        self._attempted = asyncio.Event()
        self._broken = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"MCPSource({self.name!r})"

    @property
    def transport(self) -> str:
        return "http" if "url" in self.decl else "stdio"

    @property
    def session(self) -> Any:
        """The SDK's ``ClientSession`` while connected (``None`` otherwise): for code that
        needs the SDK itself (the benchmark compares against it on the same connection)."""
        return self._session

    def secrets(self) -> list[str]:
        """Header and env values, credentials in the url: never shown."""
        values = [*self.decl.get("headers", {}).values(), *self.decl.get("env", {}).values()]
        return [*map(str, values), *credentials_in(self.decl.get("url", ""))]

    def redact(self, text: str) -> str:
        return redact(text, self.secrets())

    # -- the tool source protocol -------------------------------------------------------------
    def exposed(self, tool: str) -> bool:
        """May the agents see the server's tool ``tool`` (allow and deny, deny wins)?"""
        if matches(tool, self.deny):
            return False
        return self.allow is None or matches(tool, self.allow)

    def list_tools(self) -> Sequence[ToolSpec]:
        return [spec for _, spec in self._specs.values()]

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        found = self._specs.get(name)
        if found is None:
            raise ToolCallError(f"MCP server {self.name!r} has no tool {name!r} (any more)")
        session = await self._live_session()
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        try:
            async with asyncio.timeout(self.timeout):  # direct callers are bounded too
                try:
                    result = await session.call_tool(found[0], dict(arguments))
                except MCPError as exc:
                    if not _session_gone(exc):
                        raise
                    # The server restarted while the connection was idle (no ping noticed
                    # yet) and did not run the call: reconnect, then make it once more.
                    self._lost(session)
                    session = await self._live_session()
                    result = await session.call_tool(found[0], dict(arguments))
        except TimeoutError:
            raise ToolCallError(
                f"MCP server {self.name!r}: {name!r} did not answer within {self.timeout:g} s"
            ) from None
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._lost(session)
                raise ToolCallError(
                    f"MCP server {self.name!r} closed the connection during the call"
                ) from None
            raise ToolCallError(self.redact(f"MCP server {self.name!r}: {exc.message}")) from None
        except (OSError, EOFError, RuntimeError) as exc:
            self._lost(session)
            raise ToolCallError(
                self.redact(f"MCP server {self.name!r} failed: {type(exc).__name__}: {exc}")
            ) from None
        return result_value(result, name)

    def _ended(self) -> None:
        """The server's message stream ended (a stdio server exited): reconnect now, and let
        calls wait for it rather than fail on the dead session."""
        if self._stop.is_set():
            return
        self._session = None
        self._connected.clear()
        self._broken.set()

    def _lost(self, session: Any) -> None:
        """The connection broke under a call: later calls wait for the owner to reconnect."""
        if self._session is session:
            self._session = None
            self._connected.clear()
        self._broken.set()

    async def _live_session(self) -> Any:
        if self._task is None:
            raise ToolCallError(f"MCP server {self.name!r} is not opened")
        if not self._connected.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), self.connect_timeout)
        session = self._session
        if session is None:
            raise ToolCallError(f"MCP server {self.name!r} is not connected: {self.error}")
        return session

    def unavailable(self) -> str | None:
        """Why the agents that use this server cannot run now (``None``: they can; while it
        reconnects after a drop, calls wait for it)."""
        if self._connected.is_set() or self.error is None:
            return None
        return f"MCP server {self.name!r} is not connected: {self.error}"

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Start the connection's owner task; return after its first attempt (bounded by
        ``connect_timeout``). Never raises: a server that fails keeps being retried and
        :attr:`error` says why."""
        if self._task is None:
            self._stop.clear()
            self._attempted.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._own(), name=f"mcp-{self.name}"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._attempted.wait(), self.connect_timeout + 1)

    async def aclose(self) -> None:
        """Close the connection (stop the subprocess / end the HTTP session). Idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        self.error = "closed"
        # Bounded both ways: a transport whose shutdown never ends (a server that ignores its
        # closed stdin) must not hang the caller, and the caller's own cancellation is never
        # swallowed here.
        done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
            if not done:
                log.warning("MCP server %r did not close in time; left behind", self.name)

    async def __aenter__(self) -> MCPSource:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect_once(self) -> None:
        """Connect, list the tools, disconnect (``vel-runner validate --connect``).

        Raises :class:`ToolCallError` with a redacted reason when the server cannot be used.
        """
        try:
            async with asyncio.timeout(self.connect_timeout), contextlib.AsyncExitStack() as stack:
                session = await self._connect(stack)
                await self._refresh(session)
        except Exception as exc:
            raise ToolCallError(self._reason(exc)) from None

    async def _own(self) -> None:
        delay = BACKOFF[0]
        while not self._stop.is_set():
            try:
                async with contextlib.AsyncExitStack() as stack:
                    async with asyncio.timeout(self.connect_timeout):
                        session = await self._connect(stack)
                        await self._refresh(session)
                    self._session, self.error = session, None
                    self._broken.clear()
                    self._connected.set()
                    self._attempted.set()
                    log.info("MCP server %r connected (%d tools)", self.name, len(self._specs))
                    delay = BACKOFF[0]
                    await self._serve(session)
            except Exception as exc:
                if self._stop.is_set():
                    break
                self.error = self._reason(exc)
                log.warning("MCP server %r: %s", self.name, self.error)
            finally:
                self._session = None
                self._connected.clear()
                self._attempted.set()
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, BACKOFF[1])

    async def _serve(self, session: Any) -> None:
        """Hold the connection until it breaks or :meth:`aclose`; ping it while idle."""
        stop = asyncio.ensure_future(self._stop.wait())
        broken = asyncio.ensure_future(self._broken.wait())
        try:
            while True:
                done, _ = await asyncio.wait({stop, broken}, timeout=PING_INTERVAL)
                if stop in done:
                    return
                if broken in done:  # the owner reconnects; calls wait for it meanwhile
                    log.warning("MCP server %r: connection lost, reconnecting", self.name)
                    return
                async with asyncio.timeout(self.connect_timeout):
                    await session.send_ping()
        finally:
            stop.cancel()
            broken.cancel()

    async def _connect(self, stack: contextlib.AsyncExitStack) -> Any:
        try:
            from mcp import ClientSession
        except ImportError:
            raise ToolCallError(f"MCP servers need the mcp package: {INSTALL}") from None

        if "url" in self.decl:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            client = httpx2.AsyncClient(  # the SDK's default timeouts, our headers
                headers=dict(self.decl.get("headers", {})), timeout=httpx2.Timeout(30, read=300)
            )
            await stack.enter_async_context(client)
            streams = await stack.enter_async_context(
                streamable_http_client(self.decl["url"], http_client=client)
            )
        else:
            import os

            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(
                command=self.decl["command"],
                args=list(self.decl.get("args", ())),
                env=dict(self.decl.get("env", {})),
                cwd=self.decl.get("cwd"),
            )
            errlog = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115
            streams = await stack.enter_async_context(stdio_client(params, errlog=errlog))
        read = EndWatch(streams[0], self._ended)
        session = await stack.enter_async_context(
            ClientSession(read, streams[1], message_handler=self._on_message)
        )
        await session.initialize()
        return session

    async def _on_message(self, message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            session = self._session
            if session is not None:
                asyncio.get_running_loop().create_task(self._refresh_logged(session))

    async def _refresh_logged(self, session: Any) -> None:
        try:
            await self._refresh(session)
            log.info("MCP server %r: tool list changed (%d tools)", self.name, len(self._specs))
        except Exception as exc:
            log.warning("MCP server %r: listing tools failed: %s", self.name, self._reason(exc))

    async def _refresh(self, session: Any) -> None:
        """List every tool (all pages) and rebuild the exposed ones."""
        from mcp.types import PaginatedRequestParams

        listed: dict[str, Any] = {}
        cursor: str | None = None
        while True:
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            listed.update((tool.name, tool) for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        specs: dict[str, tuple[str, ToolSpec]] = {}
        for tool_name, tool in listed.items():
            exposed = self.prefix + tool_name
            if not self.exposed(tool_name):
                continue
            if not TOOL_NAME.fullmatch(exposed):
                log.warning("MCP server %r: tool %r has a name models refuse", self.name, exposed)
                continue
            specs[exposed] = (
                tool_name,
                ToolSpec(
                    name=exposed,
                    description=tool.description or tool.title or "",
                    parameters=tool.input_schema or {"type": "object", "properties": {}},
                    timeout=self.timeout,
                    strict=False,
                ),
            )
        self.listed, self._specs = listed, specs
        self.tools_version += 1

    def _reason(self, exc: BaseException) -> str:
        """A short, redacted reason for a failed connection."""
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]
        if isinstance(exc, TimeoutError):
            return f"no answer within {self.connect_timeout:g}s"
        if isinstance(exc, ToolCallError):
            return str(exc)
        text = str(exc) or type(exc).__name__
        where = self.decl.get("url") or self.decl.get("command")
        return self.redact(f"{type(exc).__name__}: {text} ({self.transport} {where})")


class MCPToolView:
    """Some tools of a server (an agent listing ``server.tool``), sharing its connection."""

    def __init__(self, source: MCPSource, tools: Sequence[str]) -> None:
        self.source = source
        self.only = {source.prefix + tool for tool in tools}

    @property
    def tools_version(self) -> int:
        return self.source.tools_version

    def unavailable(self) -> str | None:
        return self.source.unavailable()

    def list_tools(self) -> Sequence[ToolSpec]:
        return [spec for spec in self.source.list_tools() if spec.name in self.only]

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        if name not in self.only:
            raise ToolCallError(f"tool {name!r} is not offered to this agent")
        return await self.source.call_tool(name, arguments)


__all__ = ["MCPSource", "MCPToolView", "matches"]
