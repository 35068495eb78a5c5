"""A real MCP server (the SDK's ``MCPServer``) that misbehaves on purpose, for the lifecycle tests.

``python unruly_server.py [stdio | http PORT] [options] [--tag TAG]``:

- ``--ignore-term``: ignore SIGTERM (only SIGKILL stops it);
- ``--linger``: keep running after its stdin closes (it ignores the end of its session);
- ``--child``: start a grandchild that ignores SIGTERM too (the process group must go);
- ``--init-delay S``: block S seconds before serving (an ``initialize`` that hangs);
- ``--tag TAG``: ignored; it marks the command lines so a test can count the processes left.

Its tools: ``echo``, ``pid``, ``flood`` (send N ``tools/list_changed``), ``listings`` (how many
``tools/list`` it answered), ``block`` (hold its event loop: pings go unanswered), ``big``
(a result of N megabytes) and ``described`` (a 1 MB description).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

ARGS = sys.argv[1:]
LISTINGS = 0


class CountingServer(MCPServer):
    """Counts the ``tools/list`` requests it answers."""

    async def list_tools(self) -> Any:
        global LISTINGS
        LISTINGS += 1
        return await super().list_tools()


server = CountingServer("vel-unruly")


@server.tool()
def echo(text: str) -> str:
    """Return the text as it is."""
    return text


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
async def flood(count: int, ctx: Context) -> str:
    """Send ``count`` tools/list_changed notifications at once."""
    for _ in range(count):
        await ctx.session.send_tool_list_changed()
    return f"sent {count}"


@server.tool()
def listings() -> int:
    """How many tools/list requests this server answered."""
    return LISTINGS


@server.tool()
async def block(seconds: float) -> str:
    """Hold the server's event loop for ``seconds`` (nothing else is answered meanwhile)."""
    time.sleep(seconds)
    return f"blocked {seconds}"


@server.tool()
def big(megabytes: float) -> str:
    """A text of ``megabytes`` MB."""
    return "x" * int(megabytes * 1_000_000)


def described() -> str:
    """Replaced below by a 1 MB description."""
    return "ok"


server.add_tool(described, description="A tool described at great length. " * 30_000)


def start_child() -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(600)"
    subprocess.Popen([sys.executable, "-c", code, *ARGS])  # same tag in its command line


def main() -> None:
    if "--ignore-term" in ARGS:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "--child" in ARGS:
        start_child()
    if "--init-delay" in ARGS:
        time.sleep(float(ARGS[ARGS.index("--init-delay") + 1]))
    if ARGS[:1] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(ARGS[1]))
    else:
        server.run("stdio")
    if "--linger" in ARGS:
        time.sleep(600)


if __name__ == "__main__":
    main()
