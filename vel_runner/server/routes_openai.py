"""The OpenAI-compatible surface: ``GET /v1/models`` and ``POST /v1/chat/completions``.

``model`` names an agent; the session comes from the ``X-Session-Id`` header (or the ``user``
field), and the last user message is the turn's input: the agent's store, not the client,
holds the history. Responses and streamed chunks use the OpenAI wire format, so the official
``openai`` client and OpenAI-speaking UIs work unchanged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, aclosing
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..errors import VelError
from ..events import Event
from ..messages import MAX_SESSION_ID_LENGTH
from .app import state_of
from .errors import ApiError, error_body
from .models import MAX_MESSAGE_CHARS, SESSION_ID_PATTERN, SESSION_ID_RULE
from .sse import data_frame, sse_response

log = logging.getLogger("vel_runner.server")
router = APIRouter(prefix="/v1", tags=["openai"])
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The fields vel-runner uses; other OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="an agent id")
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = None


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """The agents, as OpenAI models."""
    snapshot = state_of(request).live.snapshot
    created = int(snapshot.loaded_at.timestamp())
    return {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": created, "owned_by": "vel-runner"}
            for name in sorted(snapshot.agents)
        ],
    }


def last_user_text(messages: list[ChatMessage]) -> str:
    """The text of the last ``user`` message (text parts joined)."""
    for message in reversed(messages):
        if message.role != "user":
            continue
        content = message.content
        if isinstance(content, list):
            content = "".join(
                str(part.get("text", "")) for part in content if part.get("type") == "text"
            )
        if not content or not content.strip():
            raise ApiError(422, "the last user message has no text")
        if len(content) > MAX_MESSAGE_CHARS:
            raise ApiError(
                422, f"the user message is {len(content)} characters; limit {MAX_MESSAGE_CHARS}"
            )
        return content
    raise ApiError(422, "messages must contain a message with role 'user'")


def session_of(request: Request, body: ChatRequest) -> str | None:
    """``X-Session-Id`` or ``user``; 422 unless it is a valid session id."""
    session_id = request.headers.get("x-session-id") or body.user
    if session_id is None:
        return None
    if len(session_id) > MAX_SESSION_ID_LENGTH or not _SESSION_ID.match(session_id):
        raise ApiError(422, f"session id {session_id[:80]!r} is invalid: {SESSION_ID_RULE}")
    return session_id


def _chunk(run_id: str, model: str, created: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{run_id}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        **fields,
    }


async def openai_frames(
    events: AsyncIterator[Event], model: str, include_usage: bool, lease: AsyncExitStack
) -> AsyncIterator[bytes]:
    """A turn's UI-stream events as OpenAI ``chat.completion.chunk`` frames."""
    created, run_id = int(time.time()), ""

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    try:
        async with lease, aclosing(events):  # type: ignore[type-var]
            async for event in events:
                kind = event["type"]
                if kind == "start":
                    run_id = event["messageId"]
                    delta = {"role": "assistant", "content": ""}
                    yield data_frame(_chunk(run_id, model, created, **choice(delta)))
                elif kind == "text-delta":
                    delta = {"content": event["delta"]}
                    yield data_frame(_chunk(run_id, model, created, **choice(delta)))
                elif kind == "finish":
                    yield data_frame(_chunk(run_id, model, created, **choice({}, "stop")))
                    usage = event["messageMetadata"].get("usage")
                    if include_usage:
                        yield data_frame(_chunk(run_id, model, created, choices=[], usage=usage))
    except VelError as exc:
        log.warning("streamed chat completion of %s failed: %s", model, exc)
        yield data_frame(error_body(502, str(exc)))
    yield b"data: [DONE]\n\n"


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> Response:
    """One turn of agent ``model`` in the OpenAI chat completions format."""
    text = last_user_text(body.messages)
    session_id = session_of(request, body)
    headers = {"X-Session-Id": session_id} if session_id else {}
    agent, lease = await state_of(request).lease(body.model)
    streaming = False
    try:
        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            events = agent.run_stream({"message": text}, session_id)
            streaming = True  # from here on the stream holds (and releases) the lease
            frames = openai_frames(events, body.model, include_usage, lease)
            return sse_response(frames, headers=headers)
        result = await agent.run_turn({"message": text}, session_id)
    finally:
        if not streaming:
            await lease.aclose()
    completion = {
        "id": f"chatcmpl-{result.run_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.output},
                "finish_reason": "stop",
            }
        ],
        "usage": result.usage.as_dict() if result.usage is not None else None,
    }
    return JSONResponse(completion, headers=headers)
