"""The HTTP API's error body, ``{"error": {"type": ..., "message": ...}}``, the ``type`` each
status has (docs/http-api.md), and what a client is told of an error. Here, free of FastAPI,
because streamed protocols say it too (a chat completions stream that fails ends with an
error frame; the UI stream's ``error`` and the Responses ``response.failed`` carry the words).
"""

from __future__ import annotations

from typing import Any

from ..errors import VelError, status_of
from ..observe.logs import REQUEST_ID
from ..public_errors import public_text

#: HTTP status -> the error ``type`` the contract names.
TYPE_BY_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    409: "conflict",
    415: "unsupported_media_type",
    422: "invalid_request",
    502: "provider_error",
    503: "store_unavailable",
}


def error_body(status: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    """The error body for ``status`` (with the request's id, when it has one)."""
    kind = error_type or TYPE_BY_STATUS.get(status, "error")
    request_id = REQUEST_ID.get()
    if request_id is None:
        return {"error": {"type": kind, "message": message}}
    return {"error": {"type": kind, "message": message, "request_id": request_id}}


def client_text(exc: BaseException, request_id: str | None = None) -> str:
    """What a client of the server is told of ``exc``: its own mistake (a 4xx) as it is, a
    failure on the server's side in words an end user can act on, with the request id to
    quote (:mod:`vel_runner.public_errors`; the detail goes to the log). The library keeps
    the full message: its caller is a developer."""
    status = exc.http_status if isinstance(exc, VelError) else 500
    return public_text(exc, request_id) if status >= 500 else str(exc)


def error_of(exc: VelError) -> dict[str, Any]:
    """The error body for a vel-runner error (its status and type from the error itself)."""
    status = status_of(exc)
    return error_body(status, client_text(exc, REQUEST_ID.get()), exc.error_type)
