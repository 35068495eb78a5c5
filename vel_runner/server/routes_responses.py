"""The OpenAI Responses API: ``POST /v1/responses`` (``model`` = an agent id), plain and
streamed, ``GET`` and ``DELETE /v1/responses/{id}``; state lives in the agents' session stores.

Which session a request continues:

- ``conversation``: that session (a conversation id is a session id);
- ``previous_response_id``: the session holding that response, found through the store's
  message index. When the response is not the session's last message (or belongs to another
  agent), a new session starts from a copy of the history up to it, as OpenAI branches;
- neither: a new session (continue it with the response id).

``input`` is a string or a list of messages; the last must be the user's, the ones before it
are stored with the turn. ``instructions`` add to the agent's own for this request only.
``store: false`` reads what it continues and stores nothing. Errors use OpenAI's shape.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InvalidInputError, UnknownAgentError, VelError
from ..messages import MAX_SESSION_ID_LENGTH, Message, new_message_id
from ..storage import MessageIndex, MessageRef
from ..turn_options import TurnOptions
from .errors import OpenAIError, status_of
from .models import SESSION_ID_PATTERN, SESSION_ID_RULE
from .responses_format import response_frames, response_object, run_id_of, text_of
from .route import ServerRoute
from .sse import sse_response
from .state import ServerState, state_of

if TYPE_CHECKING:
    from ..agent import Agent
    from ..storage import SessionStore

router = APIRouter(prefix="/v1", tags=["openai"], route_class=ServerRoute)
_SESSION_ID = re.compile(SESSION_ID_PATTERN)
ROLES = ("user", "assistant", "system", "developer")
TEXT_PARTS = ("input_text", "output_text", "text")


class ResponsesRequest(BaseModel):
    """The fields vel-runner uses; other Responses fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    input: str | list[Any]
    instructions: str | None = None
    previous_response_id: str | None = Field(default=None, max_length=200)
    conversation: str | dict[str, Any] | None = None
    store: bool = True
    stream: bool = False
    metadata: dict[str, Any] | None = None

    @property
    def conversation_id(self) -> str | None:
        conversation = self.conversation
        return conversation.get("id") if isinstance(conversation, dict) else conversation


def new_session_id() -> str:
    return f"conv_{uuid4().hex}"


def check_conversation_id(value: object, param: str = "conversation") -> str:
    """A conversation id is a session id: 400 unless it is one."""
    if (
        not isinstance(value, str)
        or len(value) > MAX_SESSION_ID_LENGTH
        or not _SESSION_ID.fullmatch(value)
    ):
        raise OpenAIError(
            400, f"{param}: {str(value)[:80]!r} is invalid: {SESSION_ID_RULE}", param=param
        )
    return value


def openai_error(exc: VelError, param: str | None = None) -> OpenAIError:
    """A vel-runner error as the OpenAI-shaped error of the same meaning."""
    if isinstance(exc, UnknownAgentError):
        return OpenAIError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, InvalidInputError):
        return OpenAIError(400, str(exc), param=param)
    return OpenAIError(status_of(exc), str(exc))


def input_messages(value: str | list[Any]) -> tuple[list[Message], Message]:
    """``input`` as the messages before the user's, and the user message."""
    items: list[Any] = [{"role": "user", "content": value}] if isinstance(value, str) else value
    messages = item_messages(items)
    if not messages or messages[-1]["role"] != "user":
        raise OpenAIError(400, "input: the last item must be a user message", param="input")
    return messages[:-1], messages[-1]


def item_messages(items: list[Any], param: str = "input") -> list[Message]:
    """Message items (text only) as messages to store, each with an id."""
    messages: list[Message] = []
    for index, item in enumerate(items):
        where = f"{param}[{index}]"
        if not isinstance(item, dict):
            raise OpenAIError(400, f"{where} must be an object", param=where)
        kind = item.get("type", "message")
        if kind != "message":
            raise OpenAIError(
                400,
                f"{where}: items of type {kind!r} are not supported; send messages",
                param=f"{where}.type",
            )
        role = item.get("role")
        if role not in ROLES:
            raise OpenAIError(
                400,
                f"{where}.role must be one of {list(ROLES)}, got {role!r}",
                param=f"{where}.role",
            )
        content = item.get("content")
        if isinstance(content, list):
            bad = [
                p.get("type")
                for p in content
                if not isinstance(p, dict) or p.get("type") not in TEXT_PARTS
            ]
            if bad:
                raise OpenAIError(
                    400,
                    f"{where}.content: parts of type {bad[0]!r} are not supported",
                    param=f"{where}.content",
                )
        elif not isinstance(content, str):
            raise OpenAIError(
                400,
                f"{where}.content must be a string or a list of parts",
                param=f"{where}.content",
            )
        message_id = item.get("id")
        messages.append(
            {
                "role": role,
                "content": text_of({"content": content}),
                "id": message_id if isinstance(message_id, str) else new_message_id(),
            }
        )
    return messages


async def find_response(
    state: ServerState, response: str
) -> tuple[MessageRef, SessionStore] | None:
    """The stored answer behind a response id, through the stores' message indexes."""
    run_id = run_id_of(response)
    if run_id is None:
        return None
    agents = state.live.snapshot.agents
    seen: set[int] = set()
    for agent in agents.values():
        store = agent.store
        if id(store) in seen or not isinstance(store, MessageIndex):
            continue
        seen.add(id(store))
        ref = await store.find_message(run_id)
        if ref is not None and ref.agent_id in agents:
            return ref, store
    return None


async def history_upto(store: SessionStore, ref: MessageRef, message_id: str) -> list[Message]:
    """The session's messages up to and including ``message_id``."""
    record = await store.get(ref.agent_id, ref.session_id)
    messages = record.messages if record is not None else []
    ids = [m.get("id") for m in messages]
    return messages[: ids.index(message_id) + 1] if message_id in ids else []


def not_found(response: str) -> OpenAIError:
    return OpenAIError(
        400,
        f"Previous response with id {response!r} not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


async def locate(
    state: ServerState, agent: Agent, body: ResponsesRequest
) -> tuple[str | None, list[Message]]:
    """The session the turn continues (``None``: store nothing) and the history it needs first."""
    conversation, previous = body.conversation_id, body.previous_response_id
    if conversation is not None and previous is not None:
        raise OpenAIError(
            400,
            "previous_response_id and conversation cannot be used together",
            param="conversation",
        )
    if conversation is not None:
        sid = check_conversation_id(conversation)
        if body.store:
            return sid, []
        record = await agent.store.get(agent.id, sid)
        return None, record.messages if record is not None else []
    if previous is None:
        return (new_session_id() if body.store else None), []
    found = await find_response(state, previous)
    if found is None:
        raise not_found(previous)
    ref, store = found
    if body.store and ref.latest and ref.agent_id == agent.id and store is agent.store:
        return ref.session_id, []
    history = await history_upto(store, ref, run_id_of(previous) or "")
    return (new_session_id() if body.store else None), history


async def parse(request: Request) -> ResponsesRequest:
    try:
        raw = await request.json()
    except ValueError as exc:  # not JSON, or not UTF-8
        raise OpenAIError(400, f"the body is not valid JSON: {exc}") from None
    try:
        return ResponsesRequest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise OpenAIError(400, f"{where}: {err['msg']}", param=where) from None


async def _leased(frames: AsyncIterator[bytes], lease: AsyncExitStack) -> AsyncIterator[bytes]:
    async with lease:
        async for frame in frames:
            yield frame


@router.post("/responses", response_model=None)
async def create_response(request: Request) -> Response:
    """One turn of agent ``model`` in the Responses format."""
    body = await parse(request)
    earlier, user = input_messages(body.input)
    state = state_of(request)
    try:
        agent, lease = await state.lease(body.model)
    except VelError as exc:
        raise openai_error(exc) from None
    echo = body.model_dump(include={"instructions", "previous_response_id", "metadata", "store"})
    echo["conversation"] = body.conversation_id
    streaming = False
    try:
        sid, history = await locate(state, agent, body)
        options = TurnOptions(
            instructions=body.instructions, history=[*history, *earlier], user_id=user["id"]
        )
        turn_input = {"message": user["content"]}
        if body.stream:
            events = agent.run_stream(turn_input, sid, options=options)
            streaming = True  # the stream holds (and releases) the lease
            return sse_response(_leased(response_frames(events, body.model, echo), lease))
        result = await agent.run_turn(turn_input, sid, options=options)
    except VelError as exc:
        raise openai_error(exc, "input") from None
    finally:
        if not streaming:
            await lease.aclose()
    usage = result.usage.as_dict() if result.usage is not None else None
    return JSONResponse(
        response_object(result.run_id, body.model, text=result.output, usage=usage, request=echo)
    )


async def stored_response(
    request: Request, response: str
) -> tuple[MessageRef, SessionStore, list[Message]]:
    found = await find_response(state_of(request), response)
    if found is None:
        raise OpenAIError(404, f"Response with id {response!r} not found.", param="response_id")
    ref, store = found
    return ref, store, await history_upto(store, ref, run_id_of(response) or "")


@router.get("/responses/{response_id}", response_model=None)
async def get_response(response_id: str, request: Request) -> dict[str, Any]:
    """A stored response (its usage and request fields are not kept)."""
    ref, store, history = await stored_response(request, response_id)
    record = await store.get(ref.agent_id, ref.session_id)
    created = record.updated_at.timestamp() if record is not None else None
    run_id = run_id_of(response_id) or ""
    text = text_of(history[-1]) if history else ""
    return response_object(
        run_id,
        ref.agent_id,
        text=text,
        created_at=created,
        request={"conversation": ref.session_id},
    )


@router.delete("/responses/{response_id}", response_model=None)
async def delete_response(response_id: str, request: Request) -> dict[str, Any]:
    """Delete a stored response: its answer and the user message it answered leave their session."""
    ref, store, history = await stored_response(request, response_id)
    record = await store.get(ref.agent_id, ref.session_id)
    if record is not None:
        at = len(history) - 1
        start = at - 1 if at > 0 and history[at - 1].get("role") == "user" else at
        kept = record.messages[:start] + record.messages[at + 1 :]
        agent = state_of(request).agent(ref.agent_id)
        await store.set(ref.agent_id, ref.session_id, kept, ttl=agent.ttl)
    return {"id": response_id, "object": "response", "deleted": True}
