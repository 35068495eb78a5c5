"""What a failure is called in front of an end user: words a person can act on ("the model
provider could not be reached"), never a URL, a host or a key.

The server answers a failed request or ends a failed stream with :func:`public_text` of the
error, plus the request id, and logs the full message (already without credentials) under
that id, so an operator finds the detail from what a user reports. Errors about the request
itself (bad input, an unknown agent) are the client's to fix and keep their own message.
The library (``Agent.run``, ``run_stream``) keeps the full message: its caller is a developer.
"""

from __future__ import annotations

from .errors import (
    InvalidInputError,
    InvalidOutputError,
    MissingAPIKeyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnreachableError,
    SessionConflictError,
    StoreUnavailableError,
    ToolSourceUnavailableError,
    TurnCancelledError,
    UnknownAgentError,
)


def _provider_text(exc: ProviderError) -> str:
    if isinstance(exc, ProviderUnreachableError):
        return "the model provider could not be reached"
    if isinstance(exc, ProviderTimeoutError):
        return "the model provider did not answer in time"
    if isinstance(exc, MissingAPIKeyError):
        return "the model provider is not set up on the server (no API key)"
    status = exc.status
    if status in (401, 403):
        return f"the model provider refused the server's credentials (HTTP {status})"
    if status == 429:
        return "the model provider is busy (HTTP 429); try again in a moment"
    if status is not None and 400 <= status < 500:
        return f"the model provider refused the request (HTTP {status})"
    if status is not None:
        return f"the model provider failed (HTTP {status})"
    return "the model provider failed"


def public_text(exc: BaseException, request_id: str | None = None) -> str:
    """``exc`` in words for an end user, with the request id to quote."""
    if isinstance(exc, (InvalidInputError, UnknownAgentError)):
        return str(exc)  # about the request itself: the client's to fix
    if isinstance(exc, ProviderError):
        text = _provider_text(exc)
    elif isinstance(exc, TurnCancelledError):
        text = "the model call was cancelled"
    elif isinstance(exc, StoreUnavailableError):
        text = "the session store is unavailable; try again in a moment"
    elif isinstance(exc, ToolSourceUnavailableError):
        text = "a tool server this agent needs is unavailable; try again in a moment"
    elif isinstance(exc, SessionConflictError):
        text = "the conversation changed during the answer; try again"
    elif isinstance(exc, InvalidOutputError):
        text = (
            "the model's answer did not follow the agent's output schema, even after one "
            "repair attempt; nothing was stored"
        )
    else:
        text = "the server failed to answer"
    return f"{text} (request id {request_id})" if request_id else text


__all__ = ["public_text"]
