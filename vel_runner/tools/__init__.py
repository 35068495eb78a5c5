"""Tools: what an agent can call. Sources (Python functions, other agents, MCP servers)
list tools and call them; a :class:`Toolbox` holds an agent's sources and runs a step's calls.

Nothing here imports pydantic until a function tool is built, so configs without tools stay
cheap to validate.
"""

from __future__ import annotations

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
