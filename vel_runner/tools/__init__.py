"""Tools: what an agent can call. Sources (Python functions, other agents, MCP servers)
list tools and call them; a :class:`Toolbox` holds an agent's sources and runs a step's calls.

Names are imported from their modules on first use (PEP 562): ``vel-runner validate`` imports
``tools.python`` to check a function tool without paying for the MCP client, the toolbox or
asyncio, and nothing imports pydantic until a function tool is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .agent_tool import AgentTool
    from .base import (
        DEFAULT_TIMEOUT,
        ToolCall,
        ToolCallError,
        ToolDefinitionError,
        ToolResult,
        ToolSource,
        ToolSpec,
    )
    from .mcp_source import MCPSource
    from .python import FunctionTool, import_function
    from .toolbox import Toolbox, as_source

#: public name -> the module (in this package) that defines it
_PUBLIC = {
    "AgentTool": "agent_tool",
    "DEFAULT_TIMEOUT": "base",
    "ToolCall": "base",
    "ToolCallError": "base",
    "ToolDefinitionError": "base",
    "ToolResult": "base",
    "ToolSource": "base",
    "ToolSpec": "base",
    "MCPSource": "mcp_source",
    "FunctionTool": "python",
    "import_function": "python",
    "Toolbox": "toolbox",
    "as_source": "toolbox",
}


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())

__all__ = [
    "DEFAULT_TIMEOUT",
    "AgentTool",
    "FunctionTool",
    "MCPSource",
    "ToolCall",
    "ToolCallError",
    "ToolDefinitionError",
    "ToolResult",
    "ToolSource",
    "ToolSpec",
    "Toolbox",
    "as_source",
    "import_function",
]
