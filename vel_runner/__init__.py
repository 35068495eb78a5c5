"""vel-runner: a declarative, config-driven LLM agent runner.

The library API is the session guide's: ``Agent``, ``ContextManager`` and
``StatelessContextManager``; ``Agent(..., tools=[function, other_agent])`` gives an agent tools
(see :mod:`vel_runner.tools`).

Importing this package costs nothing: each public name is imported from its module on first
use (PEP 562), so ``vel-runner validate`` and ``schema``, which import ``vel_runner.config``
through this package, never load the turn engine, asyncio, pydantic or the providers. Type
checkers and IDEs read the names from the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
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

#: public name -> the module (relative to this package) that defines it
_PUBLIC = {
    "Agent": "agent",
    "TurnResult": "agent",
    "get_inactive_sessions": "cleanup",
    "ContextManager": "context",
    "StatelessContextManager": "context",
    "InvalidInputError": "errors",
    "MissingAPIKeyError": "errors",
    "ProviderError": "errors",
    "SessionConflictError": "errors",
    "StoreUnavailableError": "errors",
    "TurnCancelledError": "errors",
    "UnknownAgentError": "errors",
    "VelError": "errors",
    "AgentTool": "tools",
    "FunctionTool": "tools",
    "ToolDefinitionError": "tools",
    "ToolSource": "tools",
}


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())

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
