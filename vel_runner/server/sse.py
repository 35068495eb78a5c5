"""Server-sent events responses: the frames (from :mod:`vel_runner.protocols.sse`), the
``text/event-stream`` response every SSE route returns, and when a client wants one.

``/v1/events`` uses named events (``event: <kind>``) and ``: ping`` comments so that proxies
keep the connection open; turns stream through :mod:`.streaming`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ..protocols.sse import DONE, comment, data_frame, named_frame

__all__ = [
    "CONNECTED",
    "DONE",
    "PING",
    "SSE_HEADERS",
    "comment",
    "data_frame",
    "named_frame",
    "sse_response",
    "wants_stream",
]

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}
PING = comment("ping")
CONNECTED = comment("connected")


class ClosingStreamingResponse(StreamingResponse):
    """A streaming response that closes its frames when it ends, however it ends (a client
    that went away, a server shutting down), instead of leaving them to the garbage
    collector: what the stream holds (a session, an agent) is let go at once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


def sse_response(
    frames: AsyncIterator[bytes], headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    """A ``text/event-stream`` response for an iterator of ready-made frames (closed when the
    response ends)."""
    return ClosingStreamingResponse(
        frames, media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})}
    )


def wants_stream(accept: str | None, stream_flag: bool | None) -> bool:
    """Stream when the body says ``"stream": true`` or the client accepts only SSE."""
    return bool(stream_flag) or (accept is not None and "text/event-stream" in accept)
