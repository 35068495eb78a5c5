"""The OpenAI-compatible surface: ``GET /v1/models`` and ``POST /v1/chat/completions``.

``model`` names an agent; the session comes from the ``X-Session-Id`` header (or the ``user``
field), and the last user message is the turn's input: the agent's store, not the client,
holds the history. The agent's own tools run here, server side. Tools the client sends in
``tools`` are offered to the model too; when the model calls one, the reply carries its
``tool_calls`` with ``finish_reason: "tool_calls"``, and the client's next request, ending with
the ``tool`` results, continues the session from there. Responses and streamed chunks use
the OpenAI wire format, so the official ``openai`` client and OpenAI-speaking UIs work
unchanged.
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
from .errors import ApiError, error_body
from .models import MAX_HTTP_MESSAGE_CHARS, SESSION_ID_PATTERN, SESSION_ID_RULE
from .route import ServerRoute
from .sse import DONE, data_frame, sse_response
from .state import state_of

log = logging.getLogger("vel_runner.server")
router = APIRouter(prefix="/v1", tags=["openai"], route_class=ServerRoute)
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
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=128)


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
        if len(content) > MAX_HTTP_MESSAGE_CHARS:
            raise ApiError(
                422,
                f"the user message is {len(content)} characters; limit {MAX_HTTP_MESSAGE_CHARS}",
            )
        return content
    raise ApiError(422, "messages must contain a message with role 'user'")


def turn_input(messages: list[ChatMessage]) -> dict[str, Any]:
    """The turn's input: the trailing ``tool`` results, else the last user message's text."""
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        extra = message.model_extra or {}
        results.insert(0, {"tool_call_id": extra.get("tool_call_id"), "content": message.content})
    if results:
        return {"tool_results": results}
    return {"message": last_user_text(messages)}


def client_tools(body: ChatRequest) -> list[dict[str, Any]]:
    """The client's ``tools`` (function tools only), 422 when one has no name."""
    tools = body.tools or []
    for index, tool in enumerate(tools):
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise ApiError(
                422, f"tools[{index}] must be {{'type': 'function', 'function': {{...}}}}"
            )
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise ApiError(422, f"tools[{index}].function.name must be a non-empty string")
    return tools


def session_of(request: Request, body: ChatRequest) -> str | None:
    """``X-Session-Id`` or ``user``; 422 unless it is a valid session id."""
    session_id = request.headers.get("x-session-id") or body.user
    if session_id is None:
        return None
    if len(session_id) > MAX_SESSION_ID_LENGTH or not _SESSION_ID.fullmatch(session_id):
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


def _call_delta(
    index: int, arguments: str, call_id: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """A streamed ``tool_calls`` delta: id, type and name on a call's first one."""
    call: dict[str, Any] = {"index": index}
    function: dict[str, Any] = {"arguments": arguments}
    if call_id is not None:
        call.update(id=call_id, type="function")
        function = {"name": name, **function}
    return {"tool_calls": [{**call, "function": function}]}


async def openai_frames(
    events: AsyncIterator[Event],
    model: str,
    include_usage: bool,
    lease: AsyncExitStack,
    client_names: frozenset[str] = frozenset(),
) -> AsyncIterator[bytes]:
    """A turn's UI-stream events as OpenAI ``chat.completion.chunk`` frames (calls of the
    client's own tools as ``tool_calls`` deltas; the agent's tools stay server side)."""
    created, run_id = int(time.time()), ""
    client_calls: dict[str, int] = {}  # call id -> index

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
                elif kind == "tool-input-start" and event["toolName"] in client_names:
                    call_id = event["toolCallId"]
                    client_calls[call_id] = len(client_calls)
                    delta = _call_delta(client_calls[call_id], "", call_id, event["toolName"])
                    yield data_frame(_chunk(run_id, model, created, **choice(delta)))
                elif kind == "tool-input-delta" and event["toolCallId"] in client_calls:
                    delta = _call_delta(client_calls[event["toolCallId"]], event["inputTextDelta"])
                    yield data_frame(_chunk(run_id, model, created, **choice(delta)))
                elif kind == "finish" and event.get("finishReason") != "error":
                    # a failed turn's finish (it raises next) ends as the error below
                    reason = "tool_calls" if client_calls else "stop"
                    yield data_frame(_chunk(run_id, model, created, **choice({}, reason)))
                    usage = event["messageMetadata"].get("usage")
                    if include_usage:
                        yield data_frame(_chunk(run_id, model, created, choices=[], usage=usage))
    except VelError as exc:
        log.warning("streamed chat completion of %s failed: %s", model, exc)
        yield data_frame(error_body(502, str(exc)))
    yield DONE


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> Response:
    """One turn of agent ``model`` in the OpenAI chat completions format."""
    payload = turn_input(body.messages)
    tools = client_tools(body)
    session_id = session_of(request, body)
    headers = {"X-Session-Id": session_id} if session_id else {}
    agent, lease = await state_of(request).lease(body.model)
    streaming = False
    try:
        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            events = agent.run_stream(payload, session_id, client_tools=tools)
            streaming = True  # from here on the stream holds (and releases) the lease
            names = frozenset(t["function"]["name"] for t in tools) - set(agent.toolbox.names)
            frames = openai_frames(events, body.model, include_usage, lease, names)
            return sse_response(frames, headers=headers)
        result = await agent.run_turn(payload, session_id, client_tools=tools)
    finally:
        if not streaming:
            await lease.aclose()
    message: dict[str, Any] = {"role": "assistant", "content": result.output}
    if result.tool_calls:
        message["content"] = result.output or None
        message["tool_calls"] = [call.message_part() for call in result.tool_calls]
    completion = {
        "id": f"chatcmpl-{result.run_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if result.tool_calls else "stop",
            }
        ],
        "usage": result.usage.as_dict() if result.usage is not None else None,
    }
    return JSONResponse(completion, headers=headers)
