"""The HTTP API's error body, ``{"error": {"type": ..., "message": ...}}``, and the ``type``
each status has (docs/http-api.md). Here, free of FastAPI, because streamed protocols send
it as a frame too (a chat completions stream that fails ends with one)."""

from __future__ import annotations

from typing import Any

from ..errors import VelError, status_of
from ..observe.logs import REQUEST_ID

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


def error_of(exc: VelError) -> dict[str, Any]:
    """The error body for a vel-runner error (its status and type from the error itself)."""
    return error_body(status_of(exc), str(exc), exc.error_type)
