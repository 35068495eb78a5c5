"""The typed errors vel-runner raises.

Every error a caller can act on derives from :class:`VelError`, so an application can catch
one type; the subclasses say what went wrong (and the server maps each to one HTTP status).
"""

from __future__ import annotations


class VelError(Exception):
    """Base class of every error vel-runner raises on purpose."""


class InvalidInputError(VelError, ValueError):
    """Bad input from the caller: an empty message, a bad session id, an unknown provider…

    Also a ``ValueError``, so ``except ValueError`` works as people expect.
    """


class ProviderError(VelError):
    """The model provider failed (HTTP error, timeout, refused connection, missing key).

    ``status`` is the provider's HTTP status when there was one.
    """

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class MissingAPIKeyError(ProviderError):
    """No API key was given and the environment variable that would supply it is unset."""


class ProviderUnreachableError(ProviderError):
    """No connection to the model provider could be made (refused, DNS, TLS, reset)."""


class ProviderTimeoutError(ProviderError):
    """The model provider did not answer within the provider's ``timeout``."""


class TurnCancelledError(VelError):
    """A turn was cancelled (for example a stream closed early); nothing was stored."""


class StoreUnavailableError(VelError):
    """The session store cannot be reached (for example PostgreSQL is down)."""


class ToolSourceUnavailableError(VelError):
    """A tool source an agent needs cannot serve now (an MCP server that is down); the turn
    stored nothing, and agents that do not use it keep working."""

    error_type = "tool_unavailable"


class SessionConflictError(VelError):
    """A session changed under a turn by a writer that ignores the session lock (a ``DELETE``
    in SQL, say); the turn stored nothing and can be retried."""


class UnknownAgentError(VelError, LookupError):
    """No agent with that id is loaded."""
