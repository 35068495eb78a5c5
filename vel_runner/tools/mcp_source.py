"""An MCP server as a tool source: which of its tools the agents see, under which names, and
what a call gives the model. The connection itself (owner task, reconnects, pings, shutdown)
is :class:`~vel_runner.tools.mcp_connection.MCPConnection`.

What the agents see is the server's list filtered by ``allow``/``deny`` and renamed with
``prefix``, less what a model could not use: names outside ``[A-Za-z0-9_-]{1,64}``, and tools
that only run as MCP tasks (``execution.taskSupport: "required"``, which a plain
``tools/call`` cannot run). Descriptions longer than :data:`MAX_DESCRIPTION_CHARS` are cut
(and say so), since every model step sends them all.

While the server is down its agents keep being offered the tools it last listed: a call is an
error result naming the server and why (the model can tell the user, and the history stays
consistent), and it makes the connection try again at once, so a server that is back is used
from that call on.

``mcp`` is imported only when a connection is made: a config that declares an MCP server
still validates offline without it.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..durations import parse_duration
from .base import DEFAULT_TIMEOUT, ToolCallError, ToolSpec
from .mcp_connection import MCPConnection
from .mcp_results import result_value

log = logging.getLogger("vel_runner.tools.mcp")

#: A tool name the chat completions API accepts (the whole name: ``$`` would allow a final
#: newline).
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: A longer tool description is cut to this many characters.
MAX_DESCRIPTION_CHARS = 4096


def matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def short_description(text: str, limit: int = MAX_DESCRIPTION_CHARS) -> str:
    """``text``, cut to ``limit`` characters with a note saying so."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [description cut to {limit} of {len(text)} characters]"


def left_out_because(exposed: str, tool: Any) -> str | None:
    """Why the model cannot be offered ``tool`` (``None``: it can)."""
    if not TOOL_NAME.fullmatch(exposed):
        return "its name is not one models accept ([A-Za-z0-9_-], at most 64 characters)"
    execution = getattr(tool, "execution", None)
    if getattr(execution, "task_support", None) == "required":
        return "it runs only as an MCP task (taskSupport: required), which vel-runner does not run"
    return None


class MCPSource:
    """The tools of one MCP server (filtered by ``allow``/``deny``, renamed with ``prefix``)."""

    def __init__(self, name: str, decl: Mapping[str, Any]) -> None:
        self.name = name
        self.decl = dict(decl)
        self.allow: list[str] | None = list(decl["allow"]) if "allow" in decl else None
        self.deny: list[str] = list(decl.get("deny", ()))
        self.prefix: str = decl.get("prefix", "")
        self.timeout = parse_duration(decl.get("timeout", DEFAULT_TIMEOUT))
        self.connection = MCPConnection(name, decl, self._tools_listed)
        #: The cap on a result of this server's tools (``None``: the calling agent's).
        self.max_result_chars: int | None = decl.get("max_result_chars")
        #: Every tool the server listed (unfiltered), by its own name.
        self.listed: dict[str, Any] = {}
        #: Tools allow/deny let through that the model is not offered, and why (by the
        #: server's name).
        self.left_out: dict[str, str] = {}
        #: Bumped whenever the tool list changes (the toolbox rebuilds its index).
        self.tools_version = 0
        self._specs: dict[str, tuple[str, ToolSpec]] = {}  # exposed name -> (server name, spec)

    def __repr__(self) -> str:
        return f"MCPSource({self.name!r})"

    @property
    def transport(self) -> str:
        return self.connection.transport

    @property
    def connect_timeout(self) -> float:
        return self.connection.connect_timeout

    @property
    def error(self) -> str | None:
        """Why the server is not connected (``None`` while it is); never holds a secret."""
        return self.connection.error

    @property
    def session(self) -> Any:
        """The SDK's ``ClientSession`` while connected (``None`` otherwise): for code that
        needs the SDK itself (the benchmark compares against it on the same connection)."""
        return self.connection.session

    def redact(self, text: str) -> str:
        return self.connection.redact(text)

    # -- the tool source protocol -------------------------------------------------------------
    def exposed(self, tool: str) -> bool:
        """May the agents see the server's tool ``tool`` (allow and deny, deny wins)?"""
        if matches(tool, self.deny):
            return False
        return self.allow is None or matches(tool, self.allow)

    def list_tools(self) -> Sequence[ToolSpec]:
        return [spec for _, spec in self._specs.values()]

    def server_name(self, exposed: str) -> str | None:
        """The server's own name of the tool the model sees as ``exposed``."""
        found = self._specs.get(exposed)
        return found[0] if found is not None else None

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        found = self._specs.get(name)
        if found is None:
            raise ToolCallError(f"MCP server {self.name!r} has no tool {name!r} (any more)")
        tool = found[0]
        try:
            result = await self.connection.request(
                lambda session: session.call_tool(tool, dict(arguments)), self.timeout, repr(name)
            )
            return result_value(result, name)
        except ToolCallError as exc:
            raise ToolCallError(self._named(str(exc), name, tool)) from None
        except RuntimeError as exc:  # the SDK checked the result (output schema...) and refused it
            text = self.redact(f"MCP server {self.name!r}: {exc}")
            raise ToolCallError(self._named(text, name, tool)) from None

    def _named(self, text: str, exposed: str, tool: str) -> str:
        """A server's error names the tool as the server knows it: say which tool the model
        called, when the prefix makes those differ."""
        if exposed == tool:
            return text
        return f"{text} (tool {exposed!r} is {tool!r} on MCP server {self.name!r})"

    def unavailable(self) -> str | None:
        """Why this server cannot be used now (``None``: it can, or it is reconnecting after
        a drop); its agents keep working, their calls to it are error results."""
        return self.connection.unavailable()

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        """Start the connection; return after its first attempt. Never raises."""
        await self.connection.open()

    async def aclose(self) -> None:
        """Close the connection (stop the subprocess / end the HTTP session). Idempotent."""
        await self.connection.aclose()

    async def __aenter__(self) -> MCPSource:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect_once(self) -> None:
        """Connect, list the tools, disconnect (``vel-runner validate --connect``,
        ``vel-runner tools``). Raises :class:`ToolCallError` with a redacted reason when the
        server cannot be used."""
        self._tools_listed(await self.connection.probe())

    def _tools_listed(self, listed: dict[str, Any]) -> None:
        """Rebuild what the agents see from the server's whole list."""
        specs: dict[str, tuple[str, ToolSpec]] = {}
        left_out: dict[str, str] = {}
        for tool_name, tool in listed.items():
            if not self.exposed(tool_name):
                continue
            exposed = self.prefix + tool_name
            why = left_out_because(exposed, tool)
            if why is not None:
                left_out[tool_name] = why
                continue
            specs[exposed] = (
                tool_name,
                ToolSpec(
                    name=exposed,
                    description=short_description(tool.description or tool.title or ""),
                    parameters=tool.input_schema or {"type": "object", "properties": {}},
                    timeout=self.timeout,
                    strict=False,
                ),
            )
        changed = specs.keys() != self._specs.keys() or left_out != self.left_out
        if changed and self.tools_version:
            log.info("MCP server %r: its tools changed (%d offered)", self.name, len(specs))
        if changed and left_out:
            for tool_name, why in sorted(left_out.items()):
                log.warning("MCP server %r: tool %r is left out: %s", self.name, tool_name, why)
        unchanged = not changed and all(
            spec == self._specs[name][1] for name, (_, spec) in specs.items()
        )
        self.listed, self.left_out = listed, left_out
        if not unchanged:
            self._specs = specs
            self.tools_version += 1


class MCPToolView:
    """Some tools of a server (an agent listing ``server.tool``), sharing its connection."""

    def __init__(self, source: MCPSource, tools: Sequence[str]) -> None:
        self.source = source
        self.only = {source.prefix + tool for tool in tools}

    @property
    def tools_version(self) -> int:
        return self.source.tools_version

    @property
    def max_result_chars(self) -> int | None:
        return self.source.max_result_chars

    def unavailable(self) -> str | None:
        return self.source.unavailable()

    def list_tools(self) -> Sequence[ToolSpec]:
        return [spec for spec in self.source.list_tools() if spec.name in self.only]

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        if name not in self.only:
            raise ToolCallError(f"tool {name!r} is not offered to this agent")
        return await self.source.call_tool(name, arguments)


__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MCPSource",
    "MCPToolView",
    "left_out_because",
    "matches",
    "short_description",
]
