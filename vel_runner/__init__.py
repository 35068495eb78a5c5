"""vel-runner: a declarative, config-driven LLM agent runner.

The library API is the session guide's: ``Agent``, ``ContextManager`` and
``StatelessContextManager``; ``Agent(..., tools=[function, other_agent])`` gives an agent tools
(see :mod:`vel_runner.tools`). Importing this package is cheap: the openai SDK, psycopg, the
server stack and textual are imported only by the code that needs them.
"""

from __future__ import annotations

from .agent import Agent, TurnResult
from .cleanup import get_inactive_sessions
from .context import ContextManager, StatelessContextManager
from .errors import (
    InvalidInputError,
    MissingAPIKeyError,
    ProviderError,
    SessionConflictError,
    StoreUnavailableError,
    TurnCancelledError,
    UnknownAgentError,
    VelError,
)
from .tools import AgentTool, FunctionTool, ToolDefinitionError, ToolSource

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentTool",
    "ContextManager",
    "FunctionTool",
    "InvalidInputError",
    "MissingAPIKeyError",
    "ProviderError",
    "SessionConflictError",
    "StatelessContextManager",
    "StoreUnavailableError",
    "ToolDefinitionError",
    "ToolSource",
    "TurnCancelledError",
    "TurnResult",
    "UnknownAgentError",
    "VelError",
    "__version__",
    "get_inactive_sessions",
]
