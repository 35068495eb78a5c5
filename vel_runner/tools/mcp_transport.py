"""The ``mcp`` SDK's side of a connection: open a session over stdio or streamable HTTP, list
every tool, and recognise the error of a server that forgot the session. ``mcp`` is imported
only here and only when a connection is made."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from .base import ToolCallError
from .mcp_watch import EndWatch

INSTALL = "pip install 'vel-runner[mcp]'"
#: What the SDK's HTTP client reports when the server no longer knows the session (HTTP 404):
#: the request was refused unrun, so it is safe to make again on a new session.
SESSION_GONE = frozenset({"Session not found", "Session terminated"})


def session_gone(exc: Any) -> bool:
    """Is this ``MCPError`` the server saying it no longer knows the session?"""
    from mcp_types import INVALID_REQUEST

    return bool(exc.code == INVALID_REQUEST and exc.message in SESSION_GONE)


async def list_all_tools(session: Any) -> dict[str, Any]:
    """Every tool the server lists (all pages), by its own name."""
    from mcp.types import PaginatedRequestParams

    listed: dict[str, Any] = {}
    cursor: str | None = None
    while True:
        params = PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        listed.update((tool.name, tool) for tool in page.tools)
        cursor = page.next_cursor
        if not cursor:
            return listed


async def open_session(
    decl: Mapping[str, Any],
    stack: contextlib.AsyncExitStack,
    on_message: Any,  # the SDK's message handler: an async callable of one message
    on_end: Callable[[], None],
) -> tuple[Any, EndWatch]:
    """An initialized ``ClientSession`` to the server ``decl`` describes, its contexts entered
    on ``stack`` (leaving it closes the session and stops a stdio server's process group), and
    the watch on its read stream (``on_end`` when it ends)."""
    try:
        from mcp import ClientSession
    except ImportError:
        raise ToolCallError(f"MCP servers need the mcp package: {INSTALL}") from None

    if "url" in decl:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        client = httpx2.AsyncClient(  # the SDK's default timeouts, our headers
            headers=dict(decl.get("headers", {})), timeout=httpx2.Timeout(30, read=300)
        )
        await stack.enter_async_context(client)
        streams = await stack.enter_async_context(
            streamable_http_client(decl["url"], http_client=client)
        )
    else:
        import os

        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=decl["command"],
            args=list(decl.get("args", ())),
            env=dict(decl.get("env", {})),
            cwd=decl.get("cwd"),
        )
        errlog = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115
        streams = await stack.enter_async_context(stdio_client(params, errlog=errlog))
    watch = EndWatch(streams[0], on_end)
    session = await stack.enter_async_context(
        ClientSession(watch, streams[1], message_handler=on_message)
    )
    await session.initialize()
    return session, watch


__all__ = ["INSTALL", "list_all_tools", "open_session", "session_gone"]
