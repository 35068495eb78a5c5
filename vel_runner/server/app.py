"""The ASGI app: ``create_app(runtime, api_key=...)``, its lifespan and the health routes.

The app holds one :class:`ServerState` (the runtime, the limits, a "draining" flag) on
``app.state.vel``; routes read the *current* snapshot through the runtime on every request,
so a hot reload swaps agents without a restart. ``create_app`` also accepts an async loader
instead of a runtime, which the multi-worker factory (:func:`app_from_env`) uses so that each
worker builds its runtime on its own event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..heap import settle_heap
from ..observe.logs import add_secret
from ..sweeper import Sweeper
from .auth import BearerAuth
from .cors import add_cors
from .errors import install_error_handlers
from .json_text import FiniteJSONResponse
from .limits import DEFAULT_MAX_BODY_BYTES, BodyLimit
from .observability import RequestId, metrics_endpoint, start_observers, stop_observers
from .route import ServerRoute
from .settings import ServeSettings
from .state import RuntimeLoader, ServerState, state_of

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("vel_runner.server")

READY_TIMEOUT = 3.0


def _chain_drain_signals(state: ServerState) -> Callable[[], None]:
    """Set ``state.draining`` on SIGTERM/SIGINT (then run uvicorn's own handler), so that
    endless streams such as ``/v1/events`` end and uvicorn's graceful drain can finish."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(state.draining.set)
        chained = previous.get(signal.Signals(sig))
        if callable(chained):
            chained(sig, frame)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, old)

    return restore


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServerState = app.state.vel
    state.draining = asyncio.Event()
    if state.runtime is None and state.loader is not None:
        state.runtime = await state.loader()
    if state.runtime is not None:
        await state.runtime.start()  # idempotent
        snapshot = state.runtime.snapshot
        log.info(
            "serving %d agent(s): %s (config %s%s)",
            len(snapshot.agents),
            ", ".join(snapshot.agents) or "none",
            snapshot.version,
            f" from {', '.join(snapshot.files)}" if snapshot.files else "",
        )
        state.observers = await start_observers(
            state.runtime,
            metrics=state.metrics,
            turn_log_level=state.turn_log_level,
            recent=state.recent_turns,
        )
    if state.freeze_heap:
        settle_heap()  # start-up is done: keep later full collections short
    sweeper = Sweeper(state.runtime) if state.sweep and state.runtime is not None else None
    if sweeper is not None:
        sweeper.start()
    restore = _chain_drain_signals(state)
    try:
        yield
    finally:
        state.draining.set()
        restore()
        if sweeper is not None:
            await sweeper.stop()
        await stop_observers(state.observers, metrics=state.metrics)
        await app.state.chat_streams.close()
        if state.runtime is not None and state.close_runtime:
            await state.runtime.close()


async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


async def readyz(request: Request) -> JSONResponse:
    """Readiness: the config is loaded and every store answers a ping (``degraded``, still
    200, names the MCP servers that are down)."""
    state = state_of(request)
    if state.runtime is None or state.draining.is_set():
        reason = "shutting down" if state.draining.is_set() else "configuration not loaded"
        return JSONResponse({"error": {"type": "not_ready", "message": reason}}, 503)
    snapshot = state.runtime.snapshot
    stores = list(snapshot.stores.items())
    results = await asyncio.gather(
        *(asyncio.wait_for(store.ping(), READY_TIMEOUT) for _, store in stores),
        return_exceptions=True,
    )
    failed = [name for (name, _), result in zip(stores, results, strict=True) if result]
    if failed:
        message = f"session store(s) unreachable: {', '.join(sorted(failed))}"
        return JSONResponse({"error": {"type": "not_ready", "message": message}}, 503)
    # An MCP server that is down degrades its agents (calls to it are error results the
    # model reads) without stopping them: still ready, and each reason names the server.
    down = {name: why for name, s in snapshot.tool_sources.items() if (why := s.unavailable())}
    if down:
        body = {"status": "degraded", "config_version": snapshot.version, "tool_sources_down": down}
        return JSONResponse(body)
    return JSONResponse({"status": "ready", "config_version": snapshot.version})


def create_app(
    runtime: Runtime | RuntimeLoader,
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ping_interval: float = 15.0,
    close_runtime: bool = True,
    freeze_heap: bool = False,
    sweep: bool = False,
    metrics: bool = False,
    metrics_public: bool = False,
    log_format: str = "plain",
    cors_origins: Sequence[str] = (),
) -> FastAPI:
    """The vel-runner ASGI app serving ``runtime``'s agents.

    ``close_runtime``: start the runtime at startup and close it at shutdown (the app owns
    it). ``api_key``: require ``Authorization: Bearer <key>`` on every ``/v1`` route.
    ``freeze_heap``: once started, freeze the heap out of later full garbage collections
    (:mod:`vel_runner.heap`; ``vel-runner serve`` sets it, an embedding app decides).
    ``sweep``: delete the stores' expired sessions on their ``sweep`` schedules while the app
    runs (:mod:`vel_runner.sweeper`; ``vel-runner serve`` sets it).
    ``metrics``: serve ``GET /metrics`` (behind the API key unless ``metrics_public``).
    ``log_format``: ``json`` logs each turn at INFO (plain: DEBUG).
    ``cors_origins``: browser origins allowed to call the API (:mod:`.cors`; empty: none).
    """
    from . import (
        routes_agents,
        routes_chat,
        routes_config,
        routes_conversations,
        routes_openai,
        routes_responses,
        routes_sessions,
    )
    from .chat_streams import ChatStreams

    app = FastAPI(
        title="vel-runner",
        version=__version__,
        description="Declarative LLM agents over HTTP. Contract: docs/http-api.md.",
        lifespan=lifespan,
        openapi_url=None,  # added after the API's routes (below)
        default_response_class=FiniteJSONResponse,
    )
    loader = None if hasattr(runtime, "snapshot") else runtime
    app.state.vel = ServerState(
        runtime=None if loader else runtime,  # type: ignore[arg-type]
        loader=loader,
        close_runtime=close_runtime,
        ping_interval=ping_interval,
        freeze_heap=freeze_heap,
        sweep=sweep,
        metrics=metrics,
        turn_log_level=logging.INFO if log_format == "json" else logging.DEBUG,
    )
    app.state.chat_streams = ChatStreams()
    app.router.route_class = ServerRoute  # the app's own routes check bodies too
    install_error_handlers(app)
    # Routes are matched in order: the turn routes first, the documents and probes last.
    routers = (routes_agents, routes_openai, routes_responses, routes_chat, routes_sessions)
    for module in (*routers, routes_conversations, routes_config):
        # The routes themselves rather than include_router: FastAPI matches an included
        # router's routes through a wrapper that cost more than the match itself (each
        # route already has its full path and tags; the routers have no dependencies).
        app.router.routes.extend(module.router.routes)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["health"])
    if metrics:
        app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], tags=["health"])
    app.openapi_url = "/openapi.json"
    app.setup()  # /openapi.json, /docs, /redoc
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if api_key:
        add_secret(api_key)
        protected = ("/v1",) if metrics_public else ("/v1", "/metrics")
        app.add_middleware(BearerAuth, api_key=api_key, protected=protected)
    add_cors(app, cors_origins)  # outside the auth: a preflight carries no key
    app.add_middleware(RequestId)
    return app


def app_from_env() -> FastAPI:
    """The app factory uvicorn imports in each worker (``--workers N``).

    ``vel-runner serve`` validated the config and put its settings in the environment
    (VEL_CONFIG, VEL_API_KEY, VEL_RELOAD, VEL_MAX_BODY_BYTES) before starting the workers.
    """
    from ..runtime import Runtime

    settings = ServeSettings.resolve({}, os.environ)

    async def load() -> Any:
        return await Runtime.from_paths(settings.paths, watch=settings.reload)

    return create_app(
        load,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
        freeze_heap=True,
        sweep=True,
        metrics=settings.metrics,
        metrics_public=settings.metrics_public,
        log_format=settings.log_format,
        cors_origins=settings.cors_origins,
    )
