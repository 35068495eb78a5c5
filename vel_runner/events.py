"""The events ``Agent.run_stream`` yields, in the Vercel AI SDK UI message stream protocol.

Each event is a JSON-ready dict with a ``type`` key, so the server sends it as one SSE
``data:`` line and existing chat front ends (``useChat``) consume the stream unchanged.
One turn yields, in order::

    start        {"type": "start", "messageId": run_id, "messageMetadata": {...}}
    start-step   {"type": "start-step"}
    text-start   {"type": "text-start", "id": text_id}                  (with the first delta)
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
    finish       {"type": "finish", "finishReason": "stop", "messageMetadata": {...}}

``messageId`` is the id the answer is stored under. ``finish`` is sent only after the turn is
stored; its ``finishReason`` is ``stop``, ``length``, ``content-filter`` or ``tool-calls`` as
the model ended. A failed turn ends ``error``, ``finish-step``, ``finish`` with
``finishReason: "error"`` (an open text part is closed first), and the agent then raises the
typed error. ``text-start`` waits for the model's first delta, so a model that fails before
answering leaves no empty text part. Over SSE the stream ends with ``data: [DONE]``.
``finishReason`` needs ``ai`` >= 5.0.92 on the client (older 5.0.x releases reject it).
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


#: The AI SDK's finish reasons (``finish.finishReason``).
FINISH_REASONS = frozenset({"stop", "length", "content-filter", "tool-calls", "error", "other"})


def finish_reason(model_reason: str | None) -> str:
    """The AI SDK's name for the reason a model gave (OpenAI's ``tool_calls`` -> ``tool-calls``)."""
    if model_reason is None:
        return "stop"
    reason = model_reason.replace("_", "-")
    return reason if reason in FINISH_REASONS else "other"


def finish(session_id: str | None, usage: Usage | None, reason: str = "stop") -> Event:
    return {
        "type": "finish",
        "finishReason": reason if reason in FINISH_REASONS else "other",
        "messageMetadata": {
            "sessionId": session_id,
            "usage": usage.as_dict() if usage is not None else None,
        },
    }


def error(text: str) -> Event:
    return {"type": "error", "errorText": text}


def failed(text: str, session_id: str | None) -> list[Event]:
    """How a failed turn ends its stream: the error, then the step and the message closed."""
    return [error(text), {"type": "finish-step"}, finish(session_id, None, "error")]
