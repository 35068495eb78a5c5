"""A real MCP server (the SDK's own server side, over stdio) whose tool names models refuse:
``trail\\n`` (a name pattern checked with ``re.match`` and ``$`` lets it through) and one of
65 characters, beside a well-named ``fine``."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("vel-odd-names")


@server.tool(name="trail\n")
def trail() -> str:
    """A name ending in a newline."""
    return "trail"


@server.tool(name="x" * 65)
def too_long() -> str:
    """A name over 64 characters."""
    return "long"


@server.tool()
def fine() -> str:
    """A name models accept."""
    return "fine"


if __name__ == "__main__":
    server.run("stdio")
