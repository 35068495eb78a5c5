"""The OpenAI Responses API's wire format: response objects, items, and the streamed events
(:class:`ResponseEvents`, the encoder of a streamed turn), as the official SDKs (Python,
Node, the AI SDK's ``openai`` provider, the Agents SDK) parse them.

A response has one output message whose text is everything the model wrote in the turn (its
streamed deltas, concatenated, equal it); the agent's tools run server side and do not show.

Ids: a response is ``resp_<run_id>`` and its output message ``msg_<run_id>``, where
``run_id`` is the id the answer is stored under, so a response id leads back to its session
through the store's message index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..events import TextDelta, TurnEvent, TurnFailed, TurnFinished, TurnStarted
from ..messages import Message
from ..providers.base import Usage

RESPONSE_PREFIX = "resp_"


def response_id(run_id: str) -> str:
    return f"{RESPONSE_PREFIX}{run_id}"


def run_id_of(response: str) -> str | None:
    """The stored answer's id behind a response id (``None``: not one of ours)."""
    run_id = response.removeprefix(RESPONSE_PREFIX)
    return run_id if run_id != response and run_id else None


def responses_usage(usage: Usage | None) -> dict[str, Any] | None:
    """A turn's token counts in the Responses shape."""
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def text_of(message: Message) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def turn_text(history: Sequence[Message]) -> str:
    """What the model wrote in the turn that ends ``history`` (its answer and any text it
    wrote beside its tool calls): the stored form of a response's ``output_text``."""
    parts: list[str] = []
    for message in reversed(history):
        role = message.get("role")
        if role == "user":
            break
        if role == "assistant":
            parts.append(text_of(message))
    return "".join(reversed(parts))


def output_message(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    """An assistant ``message`` output item with one ``output_text`` part."""
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": status,
        "content": [output_text(text)] if status == "completed" else [],
    }


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def item_of(message: Message, fallback_id: str) -> dict[str, Any]:
    """A stored message as a conversation item."""
    item_id = str(message.get("id") or fallback_id)
    if message.get("role") == "assistant":
        return output_message(item_id, text_of(message))
    return {
        "type": "message",
        "id": item_id,
        "role": message.get("role"),
        "status": "completed",
        "content": [{"type": "input_text", "text": text_of(message)}],
    }


def response_object(
    run_id: str,
    model: str,
    *,
    status: str = "completed",
    text: str | None = None,
    usage: Usage | None = None,
    created_at: float | None = None,
    request: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A ``response`` object; ``text`` is the answer (``None``: no output yet)."""
    request = request or {}
    conversation = request.get("conversation")
    return {
        "id": response_id(run_id),
        "object": "response",
        "created_at": int(created_at if created_at is not None else time.time()),
        "status": status,
        "model": model,
        "output": [] if text is None else [output_message(f"msg_{run_id}", text)],
        "error": None if error is None else {"code": "server_error", "message": error},
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "previous_response_id": request.get("previous_response_id"),
        "conversation": {"id": conversation} if conversation else None,
        "metadata": request.get("metadata") or {},
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "store": request.get("store", True),
        "temperature": None,
        "top_p": None,
        "max_output_tokens": request.get("max_output_tokens"),
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "usage": responses_usage(usage),
        "user": None,
    }


class ResponseEvents:
    """The encoder of one streamed turn: ``response.created`` ... ``response.completed``,
    or ``response.failed`` when the turn fails. The stream has no ``[DONE]``."""

    __slots__ = ("created", "describe", "model", "opened", "request", "run_id", "seq")

    ends_with_done = False

    def __init__(
        self,
        model: str,
        request: Mapping[str, Any],
        created: float,
        *,
        describe: Callable[[BaseException], str] = str,
    ) -> None:
        self.describe = describe
        self.model = model
        self.request = request
        self.created = created
        self.run_id = ""
        self.seq = 0
        self.opened = False

    def encode(self, event: TurnEvent) -> Sequence[dict[str, Any]]:
        handler = _HANDLERS.get(type(event))
        return () if handler is None else handler(self, event)

    def _item(self, kind: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return {"type": kind, "sequence_number": self.seq - 1, **fields}

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        return response_object(
            self.run_id,
            self.model,
            status=status,
            created_at=self.created,
            request=self.request,
            **fields,
        )

    def _open(self, items: list[dict[str, Any]]) -> None:
        """The output message and its text part begin (at the first delta, or the end)."""
        if self.opened:
            return
        self.opened = True
        item = output_message(f"msg_{self.run_id}", "", status="in_progress")
        items.append(self._item("response.output_item.added", output_index=0, item=item))
        items.append(
            self._item(
                "response.content_part.added",
                item_id=item["id"],
                part=output_text(""),
                output_index=0,
                content_index=0,
            )
        )

    def _started(self, event: TurnStarted) -> Sequence[dict[str, Any]]:
        self.run_id = event.run_id
        return (
            self._item("response.created", response=self._response("in_progress")),
            self._item("response.in_progress", response=self._response("in_progress")),
        )

    def _text_delta(self, event: TextDelta) -> Sequence[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        self._open(items)
        items.append(
            self._item(
                "response.output_text.delta",
                item_id=f"msg_{self.run_id}",
                delta=event.text,
                logprobs=[],
                output_index=0,
                content_index=0,
            )
        )
        return items

    def _finished(self, event: TurnFinished) -> Sequence[dict[str, Any]]:
        result = event.result
        items: list[dict[str, Any]] = []
        self._open(items)
        text, item_id = result.output, f"msg_{self.run_id}"
        at = {"output_index": 0, "content_index": 0}
        items.append(
            self._item("response.output_text.done", item_id=item_id, text=text, logprobs=[], **at)
        )
        items.append(
            self._item("response.content_part.done", item_id=item_id, part=output_text(text), **at)
        )
        done = output_message(item_id, text)
        items.append(self._item("response.output_item.done", output_index=0, item=done))
        completed = self._response("completed", text=text, usage=result.usage)
        items.append(self._item("response.completed", response=completed))
        return items

    def _failed(self, event: TurnFailed) -> Sequence[dict[str, Any]]:
        failed = self._response("failed", error=self.describe(event.error))
        return (self._item("response.failed", response=failed),)


_HANDLERS: dict[type, Callable[[ResponseEvents, Any], Sequence[dict[str, Any]]]] = {
    TurnStarted: ResponseEvents._started,
    TextDelta: ResponseEvents._text_delta,
    TurnFinished: ResponseEvents._finished,
    TurnFailed: ResponseEvents._failed,
}


def conversation_items(messages: Sequence[Message], conversation_id: str) -> list[dict[str, Any]]:
    """A session's messages as conversation items, oldest first."""
    return [item_of(m, f"msg_{conversation_id}_{i}") for i, m in enumerate(messages)]
