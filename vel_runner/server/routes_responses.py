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

Approvals: a response whose calls wait for a person lists them as ``mcp_approval_request``
output items; an ``input`` of ``mcp_approval_response`` items (``approval_request_id``,
``approve``, ``reason``) with that response's ``previous_response_id`` (or its
``conversation``) answers them in the same session, and the turn goes on. ``text.format``
(``json_schema``, ``json_object``) goes to the model as its ``response_format``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from ..errors import VelError
from ..messages import Message
from ..protocols.responses import (
    ResponseEvents,
    response_format_of,
    response_object,
    turn_text,
)
from ..turn_options import TurnOptions
from .errors import OpenAIError
from .message_lookup import unclaimed
from .openai_route import OpenAIRoute, openai_error
from .responses_bodies import (
    ResponseId,
    ResponsesRequest,
    approval_answers,
    input_messages,
    with_ids,
)
from .state import ServerState, state_of
from .stored_responses import (
    ResponseGone,
    find_response,
    history_upto,
    stored_history,
    without_response,
)
from .streaming import client_words, lease_turn

if TYPE_CHECKING:
    from ..agent import Agent
    from ..storage import MessageRef, SessionStore

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)
ResponseIdPath = Annotated[ResponseId, Path()]


def new_session_id() -> str:
    return f"conv_{uuid4().hex}"


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
        if body.store:
            return conversation, []
        record = await agent.store.get(agent.id, conversation)
        return None, record.messages if record is not None else []
    if previous is None:
        return (new_session_id() if body.store else None), []
    found = await find_response(state, previous)
    if found is None:
        raise not_found(previous)
    ref, store, answer_id = found
    ours = body.store and ref.agent_id == agent.id and store is agent.store
    if ours and (ref.latest or await only_results_after(store, ref, answer_id)):
        return ref.session_id, []
    history = await stored_history(store, ref, answer_id)
    if history is None:  # deleted since it was found
        raise not_found(previous)
    return (new_session_id() if body.store else None), history


async def only_results_after(store: SessionStore, ref: MessageRef, answer_id: str) -> bool:
    """Is the response the session's last turn, though tool results follow it (a response
    whose calls wait for approval: the calls that ran have their results after it)?"""
    record = await store.get(ref.agent_id, ref.session_id)
    messages = record.messages if record is not None else []
    ids = [m.get("id") for m in messages]
    if answer_id not in ids:
        return False
    return all(m.get("role") == "tool" for m in messages[ids.index(answer_id) + 1 :])


async def answered_session(state: ServerState, agent: Agent, body: ResponsesRequest) -> str:
    """The session whose approvals an input of ``mcp_approval_response`` items answers."""
    if not body.store:
        raise OpenAIError(400, "store: false cannot answer approvals", param="store")
    if body.conversation_id is not None:
        return body.conversation_id
    previous = body.previous_response_id
    if previous is None:
        raise OpenAIError(
            400,
            "mcp_approval_response items need the previous_response_id that asked for them "
            "(or its conversation)",
            param="previous_response_id",
        )
    found = await find_response(state, previous)
    if found is None or found[0].agent_id != agent.id:
        raise not_found(previous)
    return found[0].session_id


@router.post("/responses", response_model=None)
async def create_response(body: ResponsesRequest, request: Request) -> Response:
    """One turn of agent ``model`` in the Responses format."""
    answers = approval_answers(body.input)
    earlier, user = ([], {}) if answers is not None else input_messages(body.input)
    client_format = response_format_of(body.text)
    state = state_of(request)
    try:
        held = await lease_turn(request, body.model)
    except VelError as exc:
        raise openai_error(exc) from None
    echo = body.model_dump(include={"instructions", "previous_response_id", "metadata", "store"})
    echo["conversation"] = body.conversation_id
    async with held:
        agent = held.agent
        shown_format = client_format
        if shown_format is None and agent.output is not None:
            shown_format = agent.output.response_format()
        try:
            turn_input: dict[str, Any]
            if answers is not None:
                sid: str | None = await answered_session(state, agent, body)
                options = TurnOptions(instructions=body.instructions)
                turn_input = {"approvals": answers}
                if body.stream and sid is not None:
                    await agent.check_answers(turn_input, sid)  # a 4xx, not a failed stream
            else:
                sid, history = await locate(state, agent, body)
                given = [*history, *earlier, user]
                if sid is not None:  # ids another session holds (a copy, a client's): new ones
                    given = await unclaimed(state, agent, sid, given)
                *before, user = with_ids(given)
                options = TurnOptions(
                    instructions=body.instructions,
                    history=before,
                    user_id=user["id"],
                    response_format=client_format,
                )
                turn_input = {"message": user["content"]}
            if body.stream:
                encoder = ResponseEvents(
                    body.model, echo, time.time(), shown_format, describe=client_words()
                )
                what = f"response of {body.model}"
                return held.stream(turn_input, sid, encoder, what, options=options)
            result = await agent.run_turn(turn_input, sid, options=options)
        except VelError as exc:
            raise openai_error(exc, "input") from None
    return JSONResponse(
        response_object(
            result.run_id,
            body.model,
            text=result.output,
            usage=result.usage,
            request=echo,
            approvals=result.approvals,
            response_format=shown_format,
        )
    )


async def stored_response(request: Request, response: str) -> tuple[MessageRef, SessionStore, str]:
    """Where a response is stored (404 unless it is)."""
    found = await find_response(state_of(request), response)
    if found is None:
        raise response_not_found(response)
    return found


def response_not_found(response: str) -> OpenAIError:
    return OpenAIError(404, f"Response with id {response!r} not found.", param="response_id")


@router.get("/responses/{response_id}", response_model=None)
async def get_response(response_id: ResponseIdPath, request: Request) -> dict[str, Any]:
    """A stored response (its usage and request fields are not kept)."""
    ref, store, answer_id = await stored_response(request, response_id)
    record = await store.get(ref.agent_id, ref.session_id)
    history = None if record is None else history_upto(record.messages, answer_id)
    if record is None or history is None:
        raise response_not_found(response_id)
    return response_object(
        answer_id,
        ref.agent_id,
        text=turn_text(history),  # what the model wrote in that turn
        created_at=record.updated_at.timestamp(),
        request={"conversation": ref.session_id},
    )


@router.delete("/responses/{response_id}", response_model=None)
async def delete_response(response_id: ResponseIdPath, request: Request) -> dict[str, Any]:
    """Delete a stored response: its turn (the user message it answered, the answer and the
    tool steps between) leaves its session, inside the session's turn lock."""
    ref, store, answer_id = await stored_response(request, response_id)
    ttl = state_of(request).agent(ref.agent_id).ttl
    try:
        kept = await store.edit(ref.agent_id, ref.session_id, without_response(answer_id), ttl=ttl)
    except ResponseGone:
        kept = None  # a concurrent DELETE (a retry) removed it first
    if kept is None:
        raise response_not_found(response_id)
    return {"id": response_id, "object": "response", "deleted": True}
