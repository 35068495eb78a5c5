"""OpenAI chat completions (``POST /v1/chat/completions``): a turn as a ``chat.completion``,
or streamed as ``chat.completion.chunk`` frames, as the official clients parse them.

The content is everything the model wrote in the turn (the concatenated deltas equal the
message, as OpenAI's contract has it). The agent's own tools run server side and do not
show; calls of the client's tools (its ``tools``) come back as ``tool_calls``, with
``finish_reason: "tool_calls"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import status_of
from ..events import (
    TextDelta,
    ToolCallStarted,
    ToolInputDelta,
    TurnEvent,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from ..turn_result import TurnResult
from .errors import error_body

Item = dict[str, Any]
NOTHING: tuple[Item, ...] = ()


def completion_id(run_id: str) -> str:
    return f"chatcmpl-{run_id}"


def finish_reason_of(result: TurnResult) -> str:
    return "tool_calls" if result.tool_calls else "stop"


def completion_object(result: TurnResult, model: str, created: int) -> Item:
    """The whole turn as a ``chat.completion``."""
    message: Item = {"role": "assistant", "content": result.output}
    if result.tool_calls:
        message["content"] = result.output or None
        message["tool_calls"] = [call.message_part() for call in result.tool_calls]
    return {
        "id": completion_id(result.run_id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason_of(result)}],
        "usage": result.usage.as_dict() if result.usage is not None else None,
    }


class ChatCompletionChunks:
    """The encoder of one streamed turn: ``chat.completion.chunk`` items; a failure is an
    error item (``{"error": {...}}``), and the stream ends with ``data: [DONE]``."""

    __slots__ = ("calls", "created", "describe", "id", "include_usage", "model")

    ends_with_done = True

    def __init__(
        self,
        model: str,
        created: int,
        *,
        include_usage: bool = False,
        describe: Callable[[BaseException], str] = str,
    ) -> None:
        self.describe = describe
        self.model = model
        self.created = created
        self.include_usage = include_usage
        self.id = ""
        self.calls: dict[str, int] = {}  # call id of a client tool -> its index

    def encode(self, event: TurnEvent) -> Sequence[Item]:
        handler = _HANDLERS.get(type(event))
        return NOTHING if handler is None else handler(self, event)

    def _chunk(self, delta: Item, finish: str | None = None) -> Item:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _started(self, event: TurnStarted) -> Sequence[Item]:
        self.id = completion_id(event.run_id)
        return (self._chunk({"role": "assistant", "content": ""}),)

    def _text_delta(self, event: TextDelta) -> Sequence[Item]:
        return (self._chunk({"content": event.text}),)

    def _tool_call_started(self, event: ToolCallStarted) -> Sequence[Item]:
        if not event.client:
            return NOTHING
        index = self.calls[event.call_id] = len(self.calls)
        call = {
            "index": index,
            "id": event.call_id,
            "type": "function",
            "function": {"name": event.name, "arguments": ""},
        }
        return (self._chunk({"tool_calls": [call]}),)

    def _tool_input_delta(self, event: ToolInputDelta) -> Sequence[Item]:
        index = self.calls.get(event.call_id)
        if index is None:
            return NOTHING
        call = {"index": index, "function": {"arguments": event.delta}}
        return (self._chunk({"tool_calls": [call]}),)

    def _finished(self, event: TurnFinished) -> Sequence[Item]:
        result = event.result
        done = self._chunk({}, finish_reason_of(result))
        if not self.include_usage:
            return (done,)
        usage = result.usage.as_dict() if result.usage is not None else None
        tail = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        }
        return (done, tail)

    def _failed(self, event: TurnFailed) -> Sequence[Item]:
        exc = event.error
        return (error_body(status_of(exc), self.describe(exc), exc.error_type),)


_HANDLERS: dict[type, Callable[[ChatCompletionChunks, Any], Sequence[Item]]] = {
    TurnStarted: ChatCompletionChunks._started,
    TextDelta: ChatCompletionChunks._text_delta,
    ToolCallStarted: ChatCompletionChunks._tool_call_started,
    ToolInputDelta: ChatCompletionChunks._tool_input_delta,
    TurnFinished: ChatCompletionChunks._finished,
    TurnFailed: ChatCompletionChunks._failed,
}
