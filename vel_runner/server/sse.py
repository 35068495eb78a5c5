"""Server-sent events: frames and the streaming response every SSE route uses.

Agent turns stream as ``data: <json>`` frames (the Vercel AI SDK UI message stream) ending in
``data: [DONE]``; ``/v1/events`` uses named events (``event: <kind>``) and ``: ping`` comments
so that proxies keep the connection open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.responses import StreamingResponse

from .json_text import dumps

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}
#: The frame that ends a turn's stream (both the native and the OpenAI-compatible one).
DONE = b"data: [DONE]\n\n"


def comment(text: str) -> bytes:
    """``: <text>`` and a blank line: a frame clients ignore (keep-alives, greetings)."""
    return f": {text}\n\n".encode()


PING = comment("ping")
CONNECTED = comment("connected")


def data_frame(payload: Mapping[str, Any]) -> bytes:
    """``data: <json>`` and a blank line (strict JSON: NaN and infinities as ``null``)."""
    return b"data: " + dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def named_frame(event: str, payload: Mapping[str, Any]) -> bytes:
    """``event: <name>``, ``data: <json>`` and a blank line (strict JSON)."""
    body = dumps(payload, separators=(",", ":"))
    return f"event: {event}\ndata: {body}\n\n".encode()


def sse_response(
    frames: AsyncIterator[bytes], headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    """A ``text/event-stream`` response for an iterator of ready-made frames."""
    return StreamingResponse(
        frames, media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})}
    )


def wants_stream(accept: str | None, stream_flag: bool | None) -> bool:
    """Stream when the body says ``"stream": true`` or the client accepts only SSE."""
    return bool(stream_flag) or (accept is not None and "text/event-stream" in accept)
