"""Server-sent events framing: ``data: <json>`` frames, named events, comments, ``[DONE]``.

Agent turns stream as ``data: <json>`` frames ending in ``data: [DONE]`` (protocols that say
so); ``/v1/events`` uses named events (``event: <kind>``) and ``: ping`` comments so that
proxies keep the connection open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..strict_json import compact_encoder

#: The frame that ends a turn's stream (the UI message stream, chat completions).
DONE = b"data: [DONE]\n\n"

_dumps = compact_encoder()  # strict: NaN and infinities as null


def comment(text: str) -> bytes:
    """``: <text>`` and a blank line: a frame clients ignore (keep-alives, greetings)."""
    return f": {text}\n\n".encode()


def data_frame(payload: Mapping[str, Any]) -> bytes:
    """``data: <json>`` and a blank line (strict JSON: NaN and infinities as ``null``)."""
    return b"data: " + _dumps(payload).encode() + b"\n\n"


def named_frame(event: str, payload: Mapping[str, Any]) -> bytes:
    """``event: <name>``, ``data: <json>`` and a blank line (strict JSON)."""
    return f"event: {event}\ndata: {_dumps(payload)}\n\n".encode()
