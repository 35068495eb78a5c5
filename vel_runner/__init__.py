"""vel-runner: a declarative, config-driven LLM agent runner.

The library API is the session guide's: ``Agent``, ``ContextManager`` and
``StatelessContextManager``. Importing this package is cheap: the openai SDK, psycopg, the
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

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "ContextManager",
    "InvalidInputError",
    "MissingAPIKeyError",
    "ProviderError",
    "SessionConflictError",
    "StatelessContextManager",
    "StoreUnavailableError",
    "TurnCancelledError",
    "TurnResult",
    "UnknownAgentError",
    "VelError",
    "__version__",
    "get_inactive_sessions",
]
