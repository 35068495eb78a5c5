"""The routes of OpenAI's own APIs (Responses, Conversations) answer every error in OpenAI's
shape, ``{"error": {"message", "type", "param", "code"}}``, as the official SDKs parse it:
a body that fails its model, a bad path or query parameter, the app-wide body check and
vel-runner's own errors alike. Used as the routers' ``route_class``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from ..errors import InvalidInputError, UnknownAgentError, VelError
from .bodies import SESSION_ID_RULE
from .errors import OpenAIError, client_message, status_of
from .route import ServerRoute

log = logging.getLogger("vel_runner.server")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_SOURCES = ("body", "query", "path", "header")


class OpenAIRoute(ServerRoute):
    """A :class:`ServerRoute` whose errors have OpenAI's shape (400 for any invalid request)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def openai_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise validation_error(exc.errors()) from None
            except VelError as exc:
                raise openai_error(exc) from None
            except HTTPException as exc:
                if isinstance(exc, OpenAIError):
                    raise
                raise OpenAIError(exc.status_code, str(exc.detail)) from None

        return openai_errors


def openai_error(exc: VelError, param: str | None = None) -> OpenAIError:
    """A vel-runner error as the OpenAI-shaped error of the same meaning."""
    if isinstance(exc, UnknownAgentError):
        return OpenAIError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, InvalidInputError):
        return OpenAIError(400, str(exc), param=param)
    status = status_of(exc)
    if status >= 500:  # the detail (no credentials in it) stays in the log, under the id
        log.warning("responses: %d %s", status, exc)
    return OpenAIError(status, client_message(exc, status))


def field_path(loc: Sequence[Any]) -> str:
    """``input[0].content[1].type`` for pydantic's ``("body", "input", "(list)", 0, ...)``:
    without the source and the union branch names (``(list)``, ``(string)``)."""
    path = ""
    for step in loc[1:] if loc and loc[0] in _SOURCES else loc:
        if isinstance(step, int):
            path += f"[{step}]"
        elif not str(step).startswith("("):
            path += f".{step}" if path else str(step)
    return path


def validation_error(errors: Sequence[Any]) -> OpenAIError:
    """The first validation error as a 400 naming its field (``param``)."""
    err = errors[0] if errors else {}
    kind, loc = err.get("type"), tuple(err.get("loc", ()))
    if kind == "json_invalid":
        detail = err.get("ctx", {}).get("error", err.get("msg"))
        return OpenAIError(400, f"the body is not valid JSON: {detail}")
    where = field_path(loc)
    if not where:
        return OpenAIError(
            400, "the request body must be a JSON object (Content-Type: application/json)"
        )
    value = err.get("input")
    shown = repr(value[:80]) if isinstance(value, str) else f"a {type(value).__name__}"
    if kind == "literal_error" and loc[-1] == "type":
        expected = err.get("ctx", {}).get("expected", "")
        message = f"{where}: type {shown} is not supported; expected {expected}"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"{where} must be an object"
    elif kind == "string_pattern_mismatch":
        message = f"{where}: {shown} is invalid: {SESSION_ID_RULE}"
    else:
        message = f"{where}: {err.get('msg', 'invalid')}"
    return OpenAIError(400, message, param=where)
