"""``GET /v1/config`` (which config is serving, the last reload error) and ``GET /v1/events``
(an SSE stream of session and config changes for the dashboard).

Events come from the runtime's listeners: session changes from every store (the database
store also relays other processes' changes through LISTEN/NOTIFY, so one stream sees the whole
fleet) and ``reloaded`` / ``reload-failed`` from the config watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..observe import hooks
from ..observe.turn_feed import TurnEvent, TurnFeed
from .route import ServerRoute
from .routes_sessions import iso
from .sse import CONNECTED, PING, named_frame, sse_response
from .state import ServerState, state_of

if TYPE_CHECKING:
    from ..config.errors import ReloadError

log = logging.getLogger("vel_runner.server")
router = APIRouter(prefix="/v1", tags=["config"], route_class=ServerRoute)

#: Events a slow client may fall behind by before the oldest are dropped.
QUEUE_SIZE = 10_000
#: How often an idle stream wakes to check for shutdown.
WAKE_INTERVAL = 0.5
#: The event that opens a stream with ``turns=true``: the turns of the last minutes.
RECENT_TURNS = "recent-turns"


def error_info(error: ReloadError | None) -> dict[str, Any] | None:
    """A reload error as JSON: where (file:line:column, document path) and what."""
    return None if error is None else error.as_dict()


@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    """The serving config's version (a hash), load time, files and last reload error."""
    runtime = state_of(request).live
    snapshot = runtime.snapshot
    return {
        "version": snapshot.version,
        "loaded_at": iso(snapshot.loaded_at),
        "files": [str(f) for f in snapshot.files],
        "last_reload_error": error_info(runtime.last_error),
    }


def event_frame(event: Any) -> bytes:
    """One runtime event as a named SSE frame (see docs/http-api.md)."""
    kind = str(event.kind)
    if isinstance(event, TurnEvent):
        return named_frame(kind, event.as_dict())
    if kind == "reloaded":
        return named_frame(kind, {"kind": kind, "version": event.version, "at": iso(event.at)})
    if kind == "reload-failed":
        return named_frame(kind, {"kind": kind, "error": error_info(event.error)})
    return named_frame(
        kind,
        {
            "kind": kind,
            "agent_id": event.agent_id,
            "session_id": event.session_id,
            "store": event.store,
            "message_count": event.message_count,
            "at": iso(event.at),
        },
    )


async def event_stream(state: ServerState, turns: bool = False) -> AsyncIterator[bytes]:
    """Frames until the client leaves or the server drains; ``: ping`` when idle."""
    queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)

    def enqueue(event: Any) -> None:
        if queue.full():  # a stalled client loses the oldest events, never blocks a turn
            queue.get_nowait()
        queue.put_nowait(event)

    remove = state.live.add_listener(enqueue)
    remove_turns = hooks.add_observer(TurnFeed(enqueue)) if turns else None
    # taken at once with the subscription: each turn is in exactly one of them
    recent = state.recent_turns.as_dicts() if turns else None
    loop = asyncio.get_running_loop()
    try:
        yield CONNECTED
        if recent is not None:
            yield named_frame(RECENT_TURNS, {"kind": RECENT_TURNS, "turns": recent})
        last_sent = loop.time()
        while not state.draining.is_set():
            try:
                event = await asyncio.wait_for(queue.get(), WAKE_INTERVAL)
            except TimeoutError:
                if loop.time() - last_sent >= state.ping_interval:
                    last_sent = loop.time()
                    yield PING
                continue
            try:
                frame = event_frame(event)
            except AttributeError:
                log.warning("dropping an event of unknown shape: %r", event)
                continue
            last_sent = loop.time()
            yield frame
    finally:
        if remove_turns is not None:
            remove_turns()
        with contextlib.suppress(Exception):
            remove()


@router.get("/events", response_class=StreamingResponse)
async def events(request: Request, turns: bool = False) -> StreamingResponse:
    """SSE: ``event: <kind>`` / ``data: <json>`` per session or config change; with
    ``turns=true`` also each turn of this process that starts or finishes, led by one
    ``recent-turns`` event with the turns that finished in the last five minutes."""
    return sse_response(event_stream(state_of(request), turns))
