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

A step whose model calls tools also yields, per call (``dynamic``: the tools are the server's,
not declared in the client)::

    tool-input-start      {"toolCallId", "toolName", "dynamic": true}
    tool-input-delta      {"toolCallId", "inputTextDelta"}          (as the model writes)
    tool-input-available  {"toolCallId", "toolName", "input", "dynamic": true}
    tool-output-available {"toolCallId", "output", "dynamic": true}   or
    tool-output-error     {"toolCallId", "errorText", "dynamic": true}

and the next model call starts its own ``start-step``. Text parts appear in a tool step only
when the model wrote text there.
    finish       {"type": "finish", "messageMetadata": {"usage": ..., "sessionId": ...}}

``finish`` is sent only after the turn is stored. When a turn fails, the stream yields
``{"type": "error", "errorText": "..."}`` instead of the remaining events (and the agent then
raises the typed error). Over SSE the stream ends with ``data: [DONE]``.
"""

from __future__ import annotations

from typing import Any

from .providers.base import Usage

Event = dict[str, Any]

EVENT_TYPES = (
    "start",
    "start-step",
    "text-start",
    "text-delta",
    "text-end",
    "tool-input-start",
    "tool-input-delta",
    "tool-input-available",
    "tool-output-available",
    "tool-output-error",
    "finish-step",
    "finish",
    "error",
)

#: The response header that tells AI SDK clients which stream protocol this is.
STREAM_HEADER = ("x-vercel-ai-ui-message-stream", "v1")


def start(run_id: str, agent_id: str, session_id: str | None) -> Event:
    return {
        "type": "start",
        "messageId": run_id,
        "messageMetadata": {"agentId": agent_id, "sessionId": session_id},
    }


def text_delta(text_id: str, delta: str) -> Event:
    return {"type": "text-delta", "id": text_id, "delta": delta}


def tool_input_start(call_id: str, name: str) -> Event:
    return {"type": "tool-input-start", "toolCallId": call_id, "toolName": name, "dynamic": True}


def tool_input_delta(call_id: str, delta: str) -> Event:
    return {"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": delta}


def tool_input_available(call_id: str, name: str, input: Any) -> Event:
    return {
        "type": "tool-input-available",
        "toolCallId": call_id,
        "toolName": name,
        "input": input,
        "dynamic": True,
    }


def tool_output(call_id: str, output: Any, error: str | None) -> Event:
    """``tool-output-error`` when ``error`` is set, else ``tool-output-available``."""
    if error is not None:
        return {
            "type": "tool-output-error",
            "toolCallId": call_id,
            "errorText": error,
            "dynamic": True,
        }
    return {
        "type": "tool-output-available",
        "toolCallId": call_id,
        "output": output,
        "dynamic": True,
    }


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
