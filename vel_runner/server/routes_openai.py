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

import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..messages import MAX_SESSION_ID_LENGTH
from ..protocols.chat_completions import ChatCompletionChunks, completion_object
from .bodies import MAX_HTTP_MESSAGE_CHARS, SESSION_ID_PATTERN, SESSION_ID_RULE
from .errors import ApiError
from .route import ServerRoute
from .state import state_of
from .streaming import client_words, lease_turn

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
    if len(session_id) > MAX_SESSION_ID_LENGTH or not _SESSION_ID.match(session_id):
        raise ApiError(422, f"session id {session_id[:80]!r} is invalid: {SESSION_ID_RULE}")
    return session_id


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request) -> Response:
    """One turn of agent ``model`` in the OpenAI chat completions format."""
    payload = turn_input(body.messages)
    tools = client_tools(body)
    session_id = session_of(request, body)
    headers = {"X-Session-Id": session_id} if session_id else {}
    created = int(time.time())
    async with await lease_turn(request, body.model) as held:
        agent = held.agent
        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            encoder = ChatCompletionChunks(
                body.model, created, include_usage=include_usage, describe=client_words()
            )
            what = f"chat completion of {body.model}"
            return held.stream(
                payload, session_id, encoder, what, headers=headers, client_tools=tools
            )
        result = await agent.run_turn(payload, session_id, client_tools=tools)
    return JSONResponse(completion_object(result, body.model, created), headers=headers)
