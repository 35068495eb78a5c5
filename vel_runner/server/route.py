"""How every route of the server is called: :class:`ServerRoute`, the ``route_class`` of the
app and of every router.

1. Its JSON request body is checked for text no store or provider can carry (lone
   surrogates, NUL, NaN/Infinity) before the route runs: 422, naming the field. In the route
   class rather than an app-wide ``Depends``, which cost FastAPI's dependency resolution on
   every request.
2. A route whose parameters are only ``str`` path parameters, one pydantic body model and
   the ``Request``, and which returns a ``Response``, is called directly when its body is
   ``application/json`` and valid: FastAPI's per-request dependency resolution, which gives
   the same arguments, cost more than the rest of the server's own work on an echo turn
   (docs/performance.md). Anything else, and every error, goes through FastAPI's handler, so
   errors keep FastAPI's exact shape. Such a route has no dependencies of its own, and
   ``create_app`` gives none to the app or to the routers it includes: nothing is skipped
   (a router included elsewhere with ``dependencies=`` must not use this class).

The body is read and parsed once: every step gets the same ``Request``, whose parse
Starlette caches.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.datastructures import Default, DefaultPlaceholder
from fastapi.routing import APIRoute
from pydantic import BaseModel

from ..messages import check_json
from .json_text import FiniteJSONResponse

#: Methods whose requests carry no body in this API.
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON = b"application/json"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
DirectCall = Callable[[Request], Awaitable[Response | None]]


async def check_body(request: Request) -> None:
    """Refuse (:class:`~vel_runner.errors.InvalidInputError`, a 422) a JSON body holding text
    no store or provider can carry. A body that is not JSON (or nests too deep to parse) is
    left to the route's own validation."""
    if request.method in BODYLESS or not await request.body():
        return
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        return
    check_json(data)


class ServerRoute(APIRoute):
    """An API route that checks its JSON body first and, when it can, skips FastAPI's
    dependency resolution (see the module's docstring). A value it returns is written as
    :class:`~vel_runner.server.json_text.FiniteJSONResponse` (NaN as ``null``) unless the
    route names another response class."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        if isinstance(options.get("response_class", Default(None)), DefaultPlaceholder):
            options["response_class"] = Default(FiniteJSONResponse)
        super().__init__(path, endpoint, **options)

    #: The direct call of this route's endpoint, if it has one (``None``: always FastAPI's);
    #: worked out once, when the route is built.
    direct: DirectCall | None

    def get_route_handler(self) -> Handler:
        standard = super().get_route_handler()  # FastAPI may build it again per inclusion
        if not hasattr(self, "direct"):
            self.direct = direct_call(self)

        async def handler(request: Request) -> Response:
            await check_body(request)
            if self.direct is not None:
                response = await self.direct(request)
                if response is not None:
                    return response
            return await standard(request)

        return handler


def direct_call(route: APIRoute) -> DirectCall | None:
    """A call of ``route``'s endpoint that builds its arguments without FastAPI, or ``None``
    when its parameters are not all simple (see the module's docstring). The call answers
    ``None`` (FastAPI's handler then runs) unless the body is JSON the model accepts."""
    dependant = route.dependant
    endpoint = dependant.call
    others = (
        dependant.query_params,
        dependant.header_params,
        dependant.cookie_params,
        dependant.dependencies,
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    if endpoint is None or any(others) or not inspect.iscoroutinefunction(endpoint):
        return None
    try:
        hints = typing.get_type_hints(endpoint, include_extras=True)  # Annotated: not simple
        parameters = inspect.signature(endpoint).parameters
    except (NameError, TypeError, ValueError):
        return None
    returns = hints.get("return")
    if route.response_model is not None or not _is_subclass(returns, Response):
        return None
    path_names = [field.name for field in dependant.path_params]
    if any(hints.get(name) is not str or parameters[name].default is not parameters[name].empty
           for name in path_names):  # fmt: skip
        return None
    body_names = [field.name for field in dependant.body_params]
    if len(body_names) > 1:
        return None
    model = hints.get(body_names[0]) if body_names else None
    if body_names and (
        not _is_subclass(model, BaseModel)
        or parameters[body_names[0]].default is not parameters[body_names[0]].empty
    ):
        return None
    request_name = dependant.request_param_name

    async def call(request: Request) -> Response | None:
        arguments: dict[str, Any] = {name: request.path_params[name] for name in path_names}
        if model is not None:
            if _content_type(request) != JSON:
                return None
            try:
                arguments[body_names[0]] = model.model_validate(await request.json())
            except (ValueError, RecursionError):  # ValidationError is a ValueError
                return None
        if request_name is not None:
            arguments[request_name] = request
        return await endpoint(**arguments)

    return call


def _content_type(request: Request) -> bytes | None:
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            return bytes(value)
    return None


def _is_subclass(value: object, base: type) -> bool:
    return isinstance(value, type) and issubclass(value, base)


__all__ = ["BODYLESS", "ServerRoute", "check_body", "direct_call"]
