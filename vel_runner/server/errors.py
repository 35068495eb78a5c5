"""Exceptions -> the API's JSON errors: ``{"error": {"type": ..., "message": ...}}``.

Every failure a client can cause maps to a 4xx with a message naming what was wrong, so no
route answers 500 to bad input; a provider failure is a 502, an unreachable store a 503. A
client's own mistake is named as it is; a failure on the server's side (5xx) is said in words
an end user can act on, with the request id, and its detail goes to the log
(:func:`~vel_runner.protocols.errors.client_text`, which failed streams use too).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import VelError, status_of
from ..observe.logs import REQUEST_ID
from ..protocols.errors import TYPE_BY_STATUS, client_text, error_body

__all__ = [
    "TYPE_BY_STATUS",
    "ApiError",
    "OpenAIError",
    "client_message",
    "describe_validation",
    "error_body",
    "error_response",
    "install_error_handlers",
    "status_of",
]

log = logging.getLogger("vel_runner.server")


class ApiError(HTTPException):
    """An error with its contract ``type``; raise it from routes and middleware."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(status_code=status, detail=message)
        self.error_type = error_type or TYPE_BY_STATUS.get(status, "error")


class OpenAIError(ApiError):
    """An error of the OpenAI-compatible routes, in OpenAI's shape:
    ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        kind = "invalid_request_error" if status < 500 else "server_error"
        super().__init__(status, message, kind)
        self.param, self.code = param, code


def error_response(
    status: int,
    message: str,
    error_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, error_type), status, headers=headers)


def client_message(exc: VelError, status: int) -> str:
    """What a client is told of ``exc`` (``status``: what it is answered with)."""
    return client_text(exc, REQUEST_ID.get()) if status >= 500 else str(exc)


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def describe_validation(errors: Sequence[Any]) -> tuple[int, str]:
    """Pydantic's errors as one readable line (400 for unparsable JSON, else 422)."""
    status = 422
    lines = []
    for err in list(errors)[:5]:
        if err.get("type") == "json_invalid":
            status = 400
            lines.append(f"invalid JSON: {err.get('ctx', {}).get('error', err.get('msg'))}")
            continue
        loc = tuple(err.get("loc", ()))
        if loc == ("body",):
            lines.append("the request body must be a JSON object (Content-Type: application/json)")
            continue
        lines.append(f"{_where(loc)}: {err.get('msg', 'invalid')}")
    return status, "; ".join(lines) or "invalid request"


async def _vel_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VelError)
    status = status_of(exc)
    if status >= 500:  # the detail (no credentials in it) stays in the log, under the id
        log.warning("%s %s -> %d %s", request.method, request.url.path, status, exc)
    return error_response(status, client_message(exc, status), exc.error_type)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, message = describe_validation(exc.errors())
    return error_response(status, message)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    error_type = getattr(exc, "error_type", None)
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    response = error_response(exc.status_code, message, error_type, headers=exc.headers)
    if isinstance(exc, OpenAIError):
        body = error_body(exc.status_code, message, error_type)
        body["error"].update(param=exc.param, code=exc.code)
        response = JSONResponse(body, exc.status_code, headers=exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "%s %s failed: %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return error_response(500, "internal error; see the server log", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app``."""
    app.add_exception_handler(VelError, _vel_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
