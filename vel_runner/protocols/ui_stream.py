"""The Vercel AI SDK UI message stream: what ``Agent.run_stream`` yields, what the runs route
streams as SSE and what ``useChat`` reads.

Each item is a JSON-ready dict with a ``type`` key (one SSE ``data:`` line on the wire). One
turn makes, in order::

    start        {"type": "start", "messageId": run_id, "messageMetadata": {...}}
    start-step   {"type": "start-step"}
    text-start   {"type": "text-start", "id": text_id}                  (with the first delta)
    text-delta   {"type": "text-delta", "id": text_id, "delta": "..."}     (one per chunk)
    text-end     {"type": "text-end", "id": text_id}
    finish-step  {"type": "finish-step"}
    finish       {"type": "finish", "finishReason": "stop", "messageMetadata": {...}}

A step whose model calls tools also makes, per call (``dynamic``: the tools are the server's,
not declared in the client)::

    tool-input-start      {"toolCallId", "toolName", "dynamic": true}
    tool-input-delta      {"toolCallId", "inputTextDelta"}          (as the model writes)
    tool-input-available  {"toolCallId", "toolName", "input", "dynamic": true}
    tool-output-available {"toolCallId", "output", "dynamic": true}   or
    tool-output-error     {"toolCallId", "errorText", "dynamic": true}

and the next model call starts its own ``start-step``. Text parts appear in a tool step only
when the model wrote text there; the answer's step always has one (empty if the model wrote
nothing). ``messageId`` is the id the answer is stored under. ``finish`` comes only after the
turn is stored; its ``finishReason`` is ``stop``, ``length``, ``content-filter`` or
``tool-calls`` as the model ended. A failed turn ends ``error``, ``finish-step``, ``finish``
with ``finishReason: "error"`` (an open text part is closed first). ``text-start`` waits for
the model's first delta, so a model that fails before answering leaves no empty text part.
Over SSE the stream ends with ``data: [DONE]``. ``finishReason`` needs ``ai`` >= 5.0.92 on
the client (older 5.0.x releases reject it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..events import (
    StepEnded,
    StepStarted,
    TextDelta,
    TextEnded,
    ToolCallReady,
    ToolCallStarted,
    ToolInputDelta,
    ToolOutput,
    TurnEvent,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from ..providers.base import Usage
from ..turn_result import FINISH_REASONS

Item = dict[str, Any]

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
NOTHING: tuple[Item, ...] = ()


def finish(session_id: str | None, usage: Usage | None, reason: str = "stop") -> Item:
    return {
        "type": "finish",
        "finishReason": reason if reason in FINISH_REASONS else "other",
        "messageMetadata": {
            "sessionId": session_id,
            "usage": usage.as_dict() if usage is not None else None,
        },
    }


class UIMessageStream:
    """The encoder of one turn: :meth:`encode` makes each event's items. ``describe`` says a
    failure in the ``error`` item (the library: the error's own message; the server: words
    for an end user, :func:`~vel_runner.protocols.errors.client_text`)."""

    __slots__ = ("describe", "in_step", "run_id", "session_id", "text_id", "text_open")

    #: Over SSE, the stream ends with ``data: [DONE]``.
    ends_with_done = True

    def __init__(self, describe: Callable[[BaseException], str] = str) -> None:
        self.describe = describe
        self.run_id = ""
        self.session_id: str | None = None
        self.text_id = ""
        self.text_open = False
        self.in_step = False

    def stopped(self) -> Sequence[Item]:
        """How a stream that was stopped midway ends (a chat answer stopped by a new message
        or a closed tab): what is open closed, then ``finish`` with ``finishReason:
        "other"`` and the metadata its stored copy carries (``interrupted``)."""
        items: list[Item] = []
        if not self.run_id:  # stopped before it began: still a whole (empty) message
            items.append({"type": "start"})
        if self.text_open:
            items.append({"type": "text-end", "id": self.text_id})
        if self.in_step:
            items.append({"type": "finish-step"})
        metadata = {"sessionId": self.session_id, "interrupted": True}
        items.append({"type": "finish", "finishReason": "other", "messageMetadata": metadata})
        self.text_open = self.in_step = False
        return items

    def encode(self, event: TurnEvent) -> Sequence[Item]:
        if type(event) is TextDelta and self.text_open:  # nearly every event: no dispatch
            return ({"type": "text-delta", "id": self.text_id, "delta": event.text},)
        handler = _HANDLERS.get(type(event))
        return NOTHING if handler is None else handler(self, event)

    def _started(self, event: TurnStarted) -> Sequence[Item]:
        self.run_id, self.session_id = event.run_id, event.session_id
        metadata = {"agentId": event.agent_id, "sessionId": event.session_id}
        return ({"type": "start", "messageId": event.run_id, "messageMetadata": metadata},)

    def _step_started(self, event: StepStarted) -> Sequence[Item]:
        index = event.index
        self.text_id = f"text-{self.run_id}" if index == 0 else f"text-{self.run_id}-{index}"
        self.text_open = False
        self.in_step = True
        return ({"type": "start-step"},)

    def _text_delta(self, event: TextDelta) -> Sequence[Item]:
        delta = {"type": "text-delta", "id": self.text_id, "delta": event.text}
        if self.text_open:
            return (delta,)
        self.text_open = True
        return ({"type": "text-start", "id": self.text_id}, delta)

    def _tool_call_started(self, event: ToolCallStarted) -> Sequence[Item]:
        return (
            {
                "type": "tool-input-start",
                "toolCallId": event.call_id,
                "toolName": event.name,
                "dynamic": True,
            },
        )

    def _tool_input_delta(self, event: ToolInputDelta) -> Sequence[Item]:
        return (
            {
                "type": "tool-input-delta",
                "toolCallId": event.call_id,
                "inputTextDelta": event.delta,
            },
        )

    def _text_ended(self, event: TextEnded) -> Sequence[Item]:
        items: list[Item] = []
        if event.answer and not self.text_open:  # the answer always has a text part
            items.append({"type": "text-start", "id": self.text_id})
            self.text_open = True
        if self.text_open:
            items.append({"type": "text-end", "id": self.text_id})
            self.text_open = False
        return items

    def _tool_call_ready(self, event: ToolCallReady) -> Sequence[Item]:
        call = event.call
        return (
            {
                "type": "tool-input-available",
                "toolCallId": call.id,
                "toolName": call.name,
                "input": event.input,
                "dynamic": True,
            },
        )

    def _tool_output(self, event: ToolOutput) -> Sequence[Item]:
        if event.error is not None:
            item = {
                "type": "tool-output-error",
                "toolCallId": event.call_id,
                "errorText": event.error,
                "dynamic": True,
            }
        else:
            item = {
                "type": "tool-output-available",
                "toolCallId": event.call_id,
                "output": event.output,
                "dynamic": True,
            }
        return (item,)

    def _step_ended(self, event: StepEnded) -> Sequence[Item]:
        self.in_step = False
        return ({"type": "finish-step"},)

    def _finished(self, event: TurnFinished) -> Sequence[Item]:
        result = event.result
        return (finish(result.session_id, result.usage, result.finish_reason),)

    def _failed(self, event: TurnFailed) -> Sequence[Item]:
        items: list[Item] = []
        if self.text_open:
            items.append({"type": "text-end", "id": self.text_id})
            self.text_open = False
        items.append({"type": "error", "errorText": self.describe(event.error)})
        items.append({"type": "finish-step"})
        self.in_step = False
        items.append(finish(self.session_id, None, "error"))
        return items


_HANDLERS: dict[type, Callable[[UIMessageStream, Any], Sequence[Item]]] = {
    TurnStarted: UIMessageStream._started,
    StepStarted: UIMessageStream._step_started,
    TextDelta: UIMessageStream._text_delta,
    ToolCallStarted: UIMessageStream._tool_call_started,
    ToolInputDelta: UIMessageStream._tool_input_delta,
    TextEnded: UIMessageStream._text_ended,
    ToolCallReady: UIMessageStream._tool_call_ready,
    ToolOutput: UIMessageStream._tool_output,
    StepEnded: UIMessageStream._step_ended,
    TurnFinished: UIMessageStream._finished,
    TurnFailed: UIMessageStream._failed,
}
