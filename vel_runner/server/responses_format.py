"""The OpenAI Responses wire format: response objects, items, and the streamed events, as the
official SDKs (Python, Node, the AI SDK's ``openai`` provider, the Agents SDK) parse them.

Ids: a response is ``resp_<run_id>`` and its output message ``msg_<run_id>``, where
``run_id`` is the id the answer is stored under, so a response id leads back to its session
through the store's message index.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..errors import VelError
from ..events import Event
from ..messages import Message
from .sse import data_frame

RESPONSE_PREFIX = "resp_"


def response_id(run_id: str) -> str:
    return f"{RESPONSE_PREFIX}{run_id}"


def run_id_of(response: str) -> str | None:
    """The stored answer's id behind a response id (``None``: not one of ours)."""
    run_id = response.removeprefix(RESPONSE_PREFIX)
    return run_id if run_id != response and run_id else None


def usage_of(usage: Mapping[str, int] | None) -> dict[str, Any] | None:
    """Chat-style token counts in the Responses shape."""
    if usage is None:
        return None
    return {
        "input_tokens": usage["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage["total_tokens"],
    }


def text_of(message: Message) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


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
    usage: Mapping[str, int] | None = None,
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
        "usage": usage_of(usage),
        "user": None,
    }


async def response_frames(
    events: AsyncIterator[Event], model: str, request: Mapping[str, Any]
) -> AsyncIterator[bytes]:
    """A turn's UI-stream events as Responses stream events (``response.created`` ...
    ``response.completed``; ``response.failed`` when the model fails)."""
    seq = 0
    run_id, created, parts = "", time.time(), []

    def frame(kind: str, **fields: Any) -> bytes:
        nonlocal seq
        seq += 1
        return data_frame({"type": kind, "sequence_number": seq - 1, **fields})

    def response(status: str, **fields: Any) -> dict[str, Any]:
        return response_object(
            run_id, model, status=status, created_at=created, request=request, **fields
        )

    at = {"output_index": 0, "content_index": 0}
    opened, failed = False, False
    try:
        async for event in events:
            kind = event["type"]
            if kind == "error" or event.get("finishReason") == "error":
                if not failed:
                    failed = True
                    error = str(event.get("errorText", "the model failed"))
                    yield frame("response.failed", response=response("failed", error=error))
                continue
            if kind == "start":
                run_id = event["messageId"]
                yield frame("response.created", response=response("in_progress"))
                yield frame("response.in_progress", response=response("in_progress"))
            elif kind in ("text-start", "text-delta", "finish") and not opened:
                opened = True
                item = output_message(f"msg_{run_id}", "", status="in_progress")
                yield frame("response.output_item.added", output_index=0, item=item)
                part = output_text("")
                yield frame("response.content_part.added", item_id=item["id"], part=part, **at)
            if kind == "text-delta":
                parts.append(event["delta"])
                yield frame(
                    "response.output_text.delta",
                    item_id=f"msg_{run_id}",
                    delta=event["delta"],
                    logprobs=[],
                    **at,
                )
            elif kind == "finish":
                text, item_id = "".join(parts), f"msg_{run_id}"
                yield frame(
                    "response.output_text.done", item_id=item_id, text=text, logprobs=[], **at
                )
                yield frame(
                    "response.content_part.done", item_id=item_id, part=output_text(text), **at
                )
                done = output_message(item_id, text)
                yield frame("response.output_item.done", output_index=0, item=done)
                usage = event["messageMetadata"].get("usage")
                yield frame(
                    "response.completed", response=response("completed", text=text, usage=usage)
                )
    except VelError as exc:
        if not failed:
            yield frame("response.failed", response=response("failed", error=str(exc)))


def conversation_items(messages: Sequence[Message], conversation_id: str) -> list[dict[str, Any]]:
    """A session's messages as conversation items, oldest first."""
    return [item_of(m, f"msg_{conversation_id}_{i}") for i, m in enumerate(messages)]
