"""The typed errors vel-runner raises, each with how it is reported.

Every error a caller can act on derives from :class:`VelError`, so an application can catch
one type. Each class carries its classification once: ``http_status`` (the HTTP status the server
answers with), ``outcome`` (the label turns, metrics, logs and traces record) and, where the
HTTP contract names one, ``error_type``. The server, the hooks and every protocol read these
attributes (:func:`outcome_of`, :func:`status_of`) instead of keeping their own tables, so
they cannot disagree.
"""

from __future__ import annotations


class VelError(Exception):
    """Base class of every error vel-runner raises on purpose."""

    #: The HTTP status the server answers with.
    http_status = 500
    #: The turn outcome label (metrics, logs, traces, ``/v1/events``).
    outcome = "error"
    #: The contract's error ``type`` when it is not the status's default.
    error_type: str | None = None


class InvalidInputError(VelError, ValueError):
    """Bad input from the caller: an empty message, a bad session id, an unknown provider…

    Also a ``ValueError``, so ``except ValueError`` works as people expect.
    """

    http_status = 422
    outcome = "invalid"


class ProviderError(VelError):
    """The model provider failed (HTTP error, timeout, refused connection, missing key).

    ``status`` is the provider's HTTP status when there was one (the server answers 502).
    """

    http_status = 502
    outcome = "provider_error"

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

    http_status = 502
    outcome = "cancelled"


class StoreUnavailableError(VelError):
    """The session store cannot be reached (for example PostgreSQL is down)."""

    http_status = 503
    outcome = "store_error"


class ToolSourceUnavailableError(VelError):
    """A tool source an agent needs cannot serve now (an MCP server that is down); the turn
    stored nothing, and agents that do not use it keep working."""

    http_status = 503
    error_type = "tool_unavailable"


class SessionConflictError(VelError):
    """A session changed under a turn by a writer that ignores the session lock (a ``DELETE``
    in SQL, say); the turn stored nothing and can be retried."""

    http_status = 409
    outcome = "conflict"


class UnknownAgentError(VelError, LookupError):
    """No agent with that id is loaded."""

    http_status = 404
    outcome = "invalid"


def status_of(exc: VelError) -> int:
    """The HTTP status the server answers ``exc`` with."""
    return exc.http_status


def outcome_of(exc: BaseException | None) -> str:
    """The outcome label of a turn or step that raised ``exc`` (``None``: it succeeded)."""
    if exc is None:
        return "ok"
    if isinstance(exc, VelError):
        return exc.outcome
    import asyncio  # here: every command imports this module, and validate needs no asyncio

    if isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        return "cancelled"
    return "error"
