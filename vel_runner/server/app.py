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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from .. import __version__
from ..heap import settle_heap
from ..sweeper import Sweeper
from .auth import BearerAuth
from .errors import ApiError, install_error_handlers
from .limits import DEFAULT_MAX_BODY_BYTES, BodyLimit
from .models import check_body

if TYPE_CHECKING:
    from ..agent import Agent
    from ..runtime import Runtime

log = logging.getLogger("vel_runner.server")

RuntimeLoader = Callable[[], Awaitable["Runtime"]]
READY_TIMEOUT = 3.0


@dataclass
class ServerState:
    """What every route needs: the runtime and the server's settings."""

    runtime: Runtime | None
    loader: RuntimeLoader | None = None
    close_runtime: bool = True
    ping_interval: float = 15.0
    freeze_heap: bool = False
    sweep: bool = False
    draining: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def live(self) -> Runtime:
        if self.runtime is None:
            raise ApiError(503, "the configuration is not loaded yet", "not_ready")
        return self.runtime

    def agent(self, agent_id: str) -> Agent:
        """The agent of the current snapshot (UnknownAgentError -> 404)."""
        return self.live.agent(agent_id)

    async def lease(self, agent_id: str) -> tuple[Agent, AsyncExitStack]:
        """The agent, held for a turn (a reload will not close it under the turn) until the
        returned stack is closed; handing the stack to a stream keeps it held while streaming.
        """
        stack = AsyncExitStack()
        agent = await stack.enter_async_context(self.live.lease(agent_id))
        return agent, stack


def state_of(request: Request) -> ServerState:
    return request.app.state.vel


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
        await app.state.chat_streams.close()
        if state.runtime is not None and state.close_runtime:
            await state.runtime.close()


async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


async def readyz(request: Request) -> JSONResponse:
    """Readiness: the config is loaded and every store answers a ping."""
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
) -> FastAPI:
    """The vel-runner ASGI app serving ``runtime``'s agents.

    ``close_runtime``: start the runtime at startup and close it at shutdown (the app owns
    it). ``api_key``: require ``Authorization: Bearer <key>`` on every ``/v1`` route.
    ``freeze_heap``: once started, freeze the heap out of later full garbage collections
    (:mod:`vel_runner.heap`; ``vel-runner serve`` sets it, an embedding app decides).
    ``sweep``: delete the stores' expired sessions on their ``sweep`` schedules while the app
    runs (:mod:`vel_runner.sweeper`; ``vel-runner serve`` sets it).
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
        dependencies=[Depends(check_body)],
    )
    loader = None if hasattr(runtime, "snapshot") else runtime
    app.state.vel = ServerState(
        runtime=None if loader else runtime,  # type: ignore[arg-type]
        loader=loader,
        close_runtime=close_runtime,
        ping_interval=ping_interval,
        freeze_heap=freeze_heap,
        sweep=sweep,
    )
    app.state.chat_streams = ChatStreams()
    install_error_handlers(app)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["health"])
    routers = (routes_agents, routes_chat, routes_sessions, routes_config, routes_openai)
    for module in (*routers, routes_responses, routes_conversations):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    if api_key:
        app.add_middleware(BearerAuth, api_key=api_key)
    return app


def app_from_env() -> FastAPI:
    """The app factory uvicorn imports in each worker (``--workers N``).

    ``vel-runner serve`` validated the config and put its settings in the environment
    (VEL_CONFIG, VEL_API_KEY, VEL_RELOAD, VEL_MAX_BODY_BYTES) before starting the workers.
    """
    from ..runtime import Runtime

    paths = [p for p in os.environ.get("VEL_CONFIG", "agents.yaml").split(os.pathsep) if p]
    watch = os.environ.get("VEL_RELOAD", "1") not in ("0", "false", "no")

    async def load() -> Any:
        return await Runtime.from_paths(paths, watch=watch)

    return create_app(
        load,
        api_key=os.environ.get("VEL_API_KEY") or None,
        max_body_bytes=int(os.environ.get("VEL_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
        freeze_heap=True,
        sweep=True,
    )
