"""A real MCP server for the tests and the benchmark, written with the SDK's own server side
(``MCPServer``, FastMCP's successor in mcp 2).

``python demo_server.py stdio`` serves over stdin/stdout; ``python demo_server.py http PORT``
serves streamable HTTP on 127.0.0.1:PORT at /mcp.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import Context, Image, MCPServer

server = MCPServer("vel-demo")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Return the text as it is."""
    return text


@server.tool()
def list_colors() -> list[str]:
    """Some colors."""
    return ["red", "green"]


@server.tool()
def delete_everything() -> str:
    """A dangerous tool that deny lists keep away."""
    return "deleted"


@server.tool()
def fail(reason: str) -> str:
    """Always fails with ``reason``."""
    raise ValueError(reason)


@server.tool()
async def slow(seconds: float, started: str = "") -> str:
    """Sleep, then answer. ``started``: a file to create as the sleep begins (a test waits for
    it to know the call is in the server)."""
    if started:
        with open(started, "w"):
            pass
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def tally(path: str) -> int:
    """Append a line to the file at ``path``; answer how many it holds (a test counts the calls
    that really ran, on the server's side)."""
    with open(path, "a") as file:
        file.write("ran\n")
    with open(path) as file:
        return len(file.readlines())


@server.tool()
def pixel() -> Image:
    """A 1x1 PNG."""
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
    return Image(data=png, format="png")


@server.tool()
def env_names() -> list[str]:
    """The environment variables the server process sees (names only)."""
    return sorted(os.environ)


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def bearer_ok(ctx: Context) -> bool:
    """Did the HTTP request carry ``Bearer $DEMO_TOKEN`` (the server's own environment)?"""
    request = ctx.request_context.request
    header = request.headers.get("authorization", "") if request is not None else ""
    return bool(os.environ.get("DEMO_TOKEN")) and header == f"Bearer {os.environ['DEMO_TOKEN']}"


@server.tool()
async def grow(ctx: Context) -> str:
    """Add the tool ``extra`` and tell the client its tool list changed."""

    def extra() -> str:
        """Added at run time."""
        return "extra!"

    server.add_tool(extra)
    await ctx.session.send_tool_list_changed()
    return "grown"


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
