"""The server's observability glue: ``X-Request-Id`` on every request and response,
``GET /metrics``, and starting/stopping the metrics, trace and log observers with the app.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..observe import traces
from ..observe.logs import REQUEST_ID, accepted_request_id

if TYPE_CHECKING:
    from ..observe.recent_turns import RecentTurns
    from ..runtime import Runtime

HEADER = b"x-request-id"


class RequestId:
    """Give every HTTP request an id (the client's ``X-Request-Id`` if sane, else a new one),
    visible to every log line and error body of the request and returned in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = None
        for name, value in scope["headers"]:
            if name == HEADER:
                sent = accepted_request_id(value.decode("latin-1"))
            elif name == b"traceparent" and traces.active():
                traces.INCOMING.set(traces.extract(_trace_headers(scope)))
        request_id = sent or os.urandom(16).hex()  # uuid4().hex costs 5x more, for no gain
        # Not reset afterwards: Starlette's outermost error handler runs after this returns,
        # in the same request task, and its 500 body should name the request too.
        REQUEST_ID.set(request_id)
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (HEADER, encoded)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _trace_headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in (b"traceparent", b"tracestate")
    }


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format: every worker's numbers in multiprocess mode."""
    from ..observe.metrics import exposition

    body, content_type = exposition()
    return Response(body, media_type=content_type)


Stopper = Callable[[], Awaitable[Any]]


async def start_observers(
    runtime: Runtime, *, metrics: bool, turn_log_level: int, recent: RecentTurns | None = None
) -> list[Stopper]:
    """Start what the app was built with (and ``recent``, the finished turns a dashboard
    is sent when it connects); returns the stoppers, called at shutdown."""
    import logging

    from ..observe import hooks
    from ..observe.logs import TurnLog

    stoppers: list[Stopper] = []
    if recent is not None:
        remove_recent = hooks.add_observer(recent)

        async def stop_recent() -> None:
            remove_recent()

        stoppers.append(stop_recent)
    if logging.getLogger("vel_runner.turns").isEnabledFor(turn_log_level):
        remove_log = hooks.add_observer(TurnLog(turn_log_level))

        async def stop_log() -> None:
            remove_log()

        stoppers.append(stop_log)
    if metrics:
        from ..observe import metrics as metrics_module

        stoppers.append(await metrics_module.start(runtime))
    if traces.enabled() and not traces.active():
        stoppers.append(traces.start())
    return stoppers


async def stop_observers(stoppers: list[Stopper], *, metrics: bool) -> None:
    """Stop them (at shutdown); a metrics worker also leaves the shared live gauges."""
    for stop in reversed(stoppers):
        await stop()
    stoppers.clear()
    if metrics:
        from ..observe.metrics import process_exited

        process_exited()
