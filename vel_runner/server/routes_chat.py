"""The AI SDK's ``useChat`` with its default transport, unchanged.

``new DefaultChatTransport({api: ".../v1/agents/{agent_id}/chat"})`` posts
``{id, messages, trigger, messageId?}`` (plus any ``body`` fields the app adds). The chat
``id`` is the session id and the server's history is authoritative: a turn takes only the
last user message's text from ``messages``. ``trigger: "regenerate-message"`` drops the answer
named by ``messageId`` (and what follows it) and answers the user message before it again.
``GET .../chat/{chat_id}/stream`` resumes an answer in flight (204 when there is none); see
:mod:`.chat_streams` for stop and resume. ``GET .../chat/{chat_id}/messages`` answers the
stored chat as UI messages (:mod:`vel_runner.ui_messages`), to restore a page.

Approvals (``ai`` >= 6): a call that waits for a person streams ``tool-approval-request``;
``addToolApprovalResponse`` puts the answer on the tool part (``state:
"approval-responded"``), and the next request (by hand, or by ``sendAutomaticallyWhen:
lastAssistantMessageIsCompleteWithApprovalResponses``) ends with that assistant message: its
answered parts are the turn's input, and the answer goes on in the same message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ..messages import MAX_SESSION_ID_LENGTH, Message
from ..protocols.ui_stream import STREAM_HEADER, UIMessageStream
from ..turn_options import TurnOptions
from ..ui_messages import to_ui_messages
from .bodies import MAX_HTTP_MESSAGE_CHARS, SESSION_ID_PATTERN, SessionId
from .chat_streams import ChatStreams
from .errors import ApiError
from .message_lookup import unclaimed_id
from .route import ServerRoute
from .sse import sse_response
from .state import state_of
from .streaming import client_words, lease_turn

if TYPE_CHECKING:
    from ..agent import Agent

router = APIRouter(prefix="/v1", tags=["chat"], route_class=ServerRoute)

ChatIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_SESSION_ID_LENGTH, pattern=SESSION_ID_PATTERN)
]


class UIMessage(BaseModel):
    """An AI SDK ``UIMessage`` as a client sends it back: any role and parts (tool, reasoning,
    file, data parts...), since the server keeps the history and reads only the last user
    message's text parts."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    role: str
    parts: list[Any] = Field(default_factory=list, max_length=10_000)


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


def approval_answers(message: UIMessage) -> list[dict[str, Any]] | None:
    """The approvals a person just answered on ``message``'s tool parts (``None``: none)."""
    if message.role != "assistant":
        return None
    answers = [
        {"id": a.get("id"), "approved": a.get("approved"), "reason": a.get("reason")}
        for part in message.parts
        if isinstance(part, dict)
        and part.get("state") == "approval-responded"
        and isinstance(a := part.get("approval"), dict)
    ]
    return answers or None


def user_text_of(message: UIMessage) -> str:
    """The text parts of the last UI message, which must be the user's."""
    if message.role != "user":
        raise ApiError(
            422, f"messages: the last message must be the user's, got {message.role!r:.40}"
        )
    if message.id is not None and len(message.id) > MAX_SESSION_ID_LENGTH:
        raise ApiError(
            422,
            f"messages: the last message's id is longer than {MAX_SESSION_ID_LENGTH} characters",
        )
    text = "".join(
        str(p.get("text", ""))
        for p in message.parts
        if isinstance(p, dict) and p.get("type") == "text"
    )
    if not text.strip():
        raise ApiError(422, "messages: the last user message has no text part")
    if len(text) > MAX_HTTP_MESSAGE_CHARS:
        raise ApiError(
            422,
            f"messages: the user message is {len(text)} characters; limit {MAX_HTTP_MESSAGE_CHARS}",
        )
    return text


def user_message(text: str, message_id: str | None) -> Message:
    """The user message as the turn will store it."""
    message: Message = {"role": "user", "content": text}
    if message_id is not None:
        message["id"] = message_id
    return message


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


async def check_regenerate(
    agent: Agent, chat_id: str, message_id: str | None, in_flight: str | None
) -> None:
    """Refuse (404) a regenerate naming a message the chat does not have, before anything
    changes: a refused regenerate must not stop the answer in flight (``in_flight``: its id,
    a message of the chat too)."""
    if message_id is None or message_id == in_flight:
        return
    record = await agent.store.get(agent.id, chat_id)
    if record is None or not any(m.get("id") == message_id for m in record.messages):
        raise ApiError(404, f"messageId {message_id!r} is not a message of chat {chat_id!r}")


async def drop_answer(agent: Agent, chat_id: str, message_id: str | None) -> None:
    """Remove the answer a regenerate replaces (and anything after it) from the session,
    inside the session's turn lock, from what is stored at that moment."""
    edited = await agent.store.edit(
        agent.id, chat_id, lambda messages: _cut_at(messages, message_id, chat_id), ttl=agent.ttl
    )
    if edited is None:
        raise ApiError(404, f"chat {chat_id!r} of agent {agent.id!r} has no stored messages")


@router.post("/agents/{agent_id}/chat", response_model=None)
async def chat(agent_id: str, body: ChatBody, request: Request) -> Response:
    """One ``useChat`` turn, streamed in the UI message stream protocol."""
    last = body.messages[-1]
    answers = approval_answers(last)
    if answers:
        return await answer_approvals(agent_id, body, answers, request)
    text = user_text_of(last)
    regenerate = body.trigger == "regenerate-message"
    streams = chat_streams(request)
    async with await lease_turn(request, agent_id) as held:
        agent = held.agent
        # one chat's messages start one at a time: a double-clicked regenerate is answered
        # once per click, each replacing the one before, never leaving the chat without one
        async with streams.starting(agent_id, body.id):
            previous = streams.get(agent_id, body.id)
            if regenerate:
                in_flight = previous.message_id if previous is not None else None
                await check_regenerate(agent, body.id, body.messageId, in_flight)
            if previous is not None:  # a new message ends the answer in flight (kept in
                await previous.stop()  # part); one on another host: starting says so there
            if regenerate:
                await drop_answer(agent, body.id, body.messageId)
            user_id = await unclaimed_id(state_of(request), agent, body.id, last.id)
            # the question stays in the chat even if its answer fails or is stopped early
            options = TurnOptions(regenerate=regenerate, user_id=user_id, keep_input=True)
            encoder = UIMessageStream(describe=client_words())
            what = f"chat of {agent_id}"
            frames = held.frames({"message": text}, body.id, encoder, what, options=options)
            question = None if regenerate else user_message(text, user_id)
            run = await streams.start(agent, body.id, frames, encoder, question)
    return sse_response(run.follow(), headers=dict([STREAM_HEADER]))


async def answer_approvals(
    agent_id: str, body: ChatBody, answers: list[dict[str, Any]], request: Request
) -> Response:
    """The turn that answers the approvals on the chat's last (assistant) message: it goes on
    in that message, so the stream's ``messageId`` is that message's id."""
    streams = chat_streams(request)
    payload = {"approvals": answers}
    async with await lease_turn(request, agent_id) as held:
        agent = held.agent
        await agent.check_answers(payload, body.id)  # unknown or answered: a 4xx, first
        async with streams.starting(agent_id, body.id):
            previous = streams.get(agent_id, body.id)
            if previous is not None:
                await previous.stop()
            message_id = body.messages[-1].id
            encoder = UIMessageStream(describe=client_words(), message_id=message_id)
            frames = held.frames(payload, body.id, encoder, f"chat of {agent_id}")
            run = await streams.start(agent, body.id, frames, encoder, None)
    return sse_response(run.follow(), headers=dict([STREAM_HEADER]))


@router.get("/agents/{agent_id}/chat/{chat_id}/messages")
async def messages(agent_id: str, chat_id: ChatIdPath, request: Request) -> list[dict[str, Any]]:
    """The chat as AI SDK UI messages, for ``useChat({ messages })`` after a reload (``[]``
    for a chat with nothing stored), with the question of an answer in flight."""
    agent = state_of(request).agent(agent_id)
    stored = await agent.ctxmgr.aget_session_context(chat_id)
    asked = await chat_streams(request).question(agent, chat_id)
    known = asked is not None and "id" in asked and any(m.get("id") == asked["id"] for m in stored)
    if asked is not None and not known:
        stored = [*stored, asked]  # answered right now: the page shows it, as it did live
    return to_ui_messages(stored, agent.id, chat_id)


@router.get("/agents/{agent_id}/chat/{chat_id}/stream", response_model=None)
async def resume(agent_id: str, chat_id: ChatIdPath, request: Request) -> Response:
    """The chat's answer in flight, replayed from its start and followed live, here or (for an
    agent on a database) in another process; 204 if none."""
    agent = state_of(request).agent(agent_id)  # 404 for an unknown agent
    streams = chat_streams(request)
    run = streams.get(agent_id, chat_id)
    frames = run.follow() if run is not None else await streams.follow_elsewhere(agent, chat_id)
    if frames is None:
        return Response(status_code=204)
    return sse_response(frames, headers=dict([STREAM_HEADER]))
