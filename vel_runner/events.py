"""The events ``Agent.run_stream`` yields, in the Vercel AI SDK UI message stream protocol.

Each event is a JSON-ready dict with a ``type`` key, so the server sends it as one SSE
``data:`` line and existing chat front ends (``useChat``) consume the stream unchanged.
One turn yields, in order::

    start        {"type": "start", "messageId": run_id, "messageMetadata": {...}}
    start-step   {"type": "start-step"}
    text-start   {"type": "text-start", "id": text_id}
    text-delta   {"type": "text-delta", "id": text_id, "delta": "..."}     (one per chunk)
    text-end     {"type": "text-end", "id": text_id}
    finish-step  {"type": "finish-step"}
    finish       {"type": "finish", "messageMetadata": {"usage": ..., "sessionId": ...}}

``finish`` is sent only after the turn is stored. When a turn fails, the stream yields
``{"type": "error", "errorText": "..."}`` instead of the remaining events (and the agent then
raises the typed error). Over SSE the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from typing import Any

from .providers.base import Usage

Event = dict[str, Any]

EVENT_TYPES = (
    "start",
    "start-step",
    "text-start",
    "text-delta",
    "text-end",
    "finish-step",
    "finish",
    "error",
)

#: The response header that tells AI SDK clients which stream protocol this is.
STREAM_HEADER = ("x-vercel-ai-ui-message-stream", "v1")
SSE_DONE = b"data: [DONE]\n\n"


def start(run_id: str, agent_id: str, session_id: str | None) -> Event:
    return {
        "type": "start",
        "messageId": run_id,
        "messageMetadata": {"agentId": agent_id, "sessionId": session_id},
    }


def text_delta(text_id: str, delta: str) -> Event:
    return {"type": "text-delta", "id": text_id, "delta": delta}


def finish(session_id: str | None, usage: Usage | None) -> Event:
    return {
        "type": "finish",
        "messageMetadata": {
            "sessionId": session_id,
            "usage": usage.as_dict() if usage is not None else None,
        },
    }


def error(text: str) -> Event:
    return {"type": "error", "errorText": text}


def to_sse(event: Event) -> bytes:
    """One SSE frame: ``data: <json>`` and a blank line."""
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"
