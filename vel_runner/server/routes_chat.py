"""The AI SDK's ``useChat`` with its default transport, unchanged.

``new DefaultChatTransport({api: ".../v1/agents/{agent_id}/chat"})`` posts
``{id, messages, trigger, messageId?}`` (plus any ``body`` fields the app adds). The chat
``id`` is the session id and the server's history is authoritative: a turn takes only the
last user message's text from ``messages``. ``trigger: "regenerate-message"`` drops the answer
named by ``messageId`` (and what follows it) and answers the user message before it again.
``GET .../chat/{chat_id}/stream`` resumes an answer in flight (204 when there is none); see
:mod:`.chat_streams` for stop and resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ..events import STREAM_HEADER
from ..messages import MAX_SESSION_ID_LENGTH, Message
from ..turn_options import TurnOptions
from .chat_streams import ChatStreams
from .errors import ApiError
from .models import MAX_HTTP_MESSAGE_CHARS, SESSION_ID_PATTERN, SessionId
from .route import ServerRoute
from .sse import sse_response
from .state import state_of

if TYPE_CHECKING:
    from ..agent import Agent

router = APIRouter(prefix="/v1", tags=["chat"], route_class=ServerRoute)

ChatIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_SESSION_ID_LENGTH, pattern=SESSION_ID_PATTERN)
]


class UIMessage(BaseModel):
    """An AI SDK ``UIMessage``; only a user message's text parts are read."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, max_length=MAX_SESSION_ID_LENGTH)
    role: Literal["system", "user", "assistant"]
    parts: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000)


class ChatBody(BaseModel):
    """The body ``DefaultChatTransport`` sends; extra fields the app adds are ignored."""

    model_config = ConfigDict(extra="allow")

    id: SessionId
    messages: list[UIMessage] = Field(min_length=1, max_length=100_000)
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    messageId: str | None = Field(default=None, max_length=MAX_SESSION_ID_LENGTH)


def chat_streams(request: Request) -> ChatStreams:
    """The app's registry of answers in flight."""
    streams: ChatStreams = request.app.state.chat_streams
    return streams


def user_text_of(message: UIMessage) -> str:
    """The text parts of the last UI message, which must be the user's."""
    if message.role != "user":
        raise ApiError(422, f"messages: the last message must be the user's, got {message.role!r}")
    text = "".join(str(p.get("text", "")) for p in message.parts if p.get("type") == "text")
    if not text.strip():
        raise ApiError(422, "messages: the last user message has no text part")
    if len(text) > MAX_HTTP_MESSAGE_CHARS:
        raise ApiError(
            422,
            f"messages: the user message is {len(text)} characters; limit {MAX_HTTP_MESSAGE_CHARS}",
        )
    return text


def _cut_at(messages: list[Message], message_id: str | None, chat_id: str) -> list[Message]:
    """The messages a regenerate keeps: up to and including the user message it answers."""
    if message_id is None:
        at = len(messages)
    else:
        found = [i for i, m in enumerate(messages) if m.get("id") == message_id]
        if not found:
            raise ApiError(404, f"messageId {message_id!r} is not a message of chat {chat_id!r}")
        at = found[0] + (messages[found[0]].get("role") == "user")
    kept = messages[:at]
    while kept and kept[-1].get("role") != "user":
        kept.pop()
    if not kept:
        raise ApiError(422, f"chat {chat_id!r} has no user message to answer again")
    return kept


async def drop_answer(agent: Agent, chat_id: str, message_id: str | None) -> None:
    """Remove the answer a regenerate replaces (and anything after it) from the session."""
    record = await agent.store.get(agent.id, chat_id)
    if record is None:
        raise ApiError(404, f"chat {chat_id!r} of agent {agent.id!r} has no stored messages")
    kept = _cut_at(record.messages, message_id, chat_id)
    if len(kept) < len(record.messages):
        await agent.store.set(agent.id, chat_id, kept, ttl=agent.ttl)


@router.post("/agents/{agent_id}/chat", response_model=None)
async def chat(agent_id: str, body: ChatBody, request: Request) -> Response:
    """One ``useChat`` turn, streamed in the UI message stream protocol."""
    last = body.messages[-1]
    text = user_text_of(last)
    regenerate = body.trigger == "regenerate-message"
    streams = chat_streams(request)
    agent, lease = await state_of(request).lease(agent_id)
    started = False
    try:
        previous = streams.get(agent_id, body.id)
        if previous is not None:
            await previous.stop()  # a new message ends the answer in flight (it keeps its part)
        if regenerate:
            await drop_answer(agent, body.id, body.messageId)
        options = TurnOptions(regenerate=regenerate, user_id=last.id)
        events = agent.run_stream({"message": text}, body.id, options=options)
        run = await streams.start(agent_id, body.id, events, lease)
        started = True  # the run holds (and releases) the lease
    finally:
        if not started:
            await lease.aclose()
    return sse_response(run.follow(), headers=dict([STREAM_HEADER]))


@router.get("/agents/{agent_id}/chat/{chat_id}/stream", response_model=None)
async def resume(agent_id: str, chat_id: ChatIdPath, request: Request) -> Response:
    """The chat's answer in flight, replayed from its start and followed live; 204 if none."""
    state_of(request).agent(agent_id)  # 404 for an unknown agent
    run = chat_streams(request).get(agent_id, chat_id)
    if run is None:
        return Response(status_code=204)
    return sse_response(run.follow(), headers=dict([STREAM_HEADER]))
