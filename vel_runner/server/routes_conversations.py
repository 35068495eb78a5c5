"""OpenAI's Conversations API on the session stores: a conversation id is a session id.

Sessions belong to agents and conversations name none, so a conversation is the session of
that id of whichever agent of the current config holds it (``POST /v1/responses`` with
``conversation`` and ``model`` puts it there; the first agent in the config's order that holds
one answers ``GET``). ``POST /v1/conversations`` with ``items`` stores them for the agent named
by ``metadata.agent`` (or the only agent); without items and without an agent nothing is
stored until the first response. ``DELETE`` deletes the conversation's session under every
agent that holds one (a conversation used with two models is two sessions), so that a deleted
conversation is gone whichever agent is asked next.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Path, Query, Request

from ..protocols.responses import conversation_items
from .bodies import SessionId
from .errors import OpenAIError
from .message_lookup import unclaimed
from .openai_route import OpenAIRoute
from .responses_bodies import ConversationRequest, MessageId, item_messages, with_ids
from .state import state_of

if TYPE_CHECKING:
    from ..agent import Agent
    from ..storage import SessionRecord

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)
ConversationIdPath = Annotated[SessionId, Path()]


def conversation_object(
    conversation_id: str, created_at: float, metadata: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": conversation_id,
        "object": "conversation",
        "created_at": int(created_at),
        "metadata": metadata or {},
    }


def not_found(conversation_id: str) -> OpenAIError:
    return OpenAIError(
        404, f"Conversation with id {conversation_id!r} not found.", param="conversation_id"
    )


async def holder(request: Request, conversation_id: str) -> tuple[Agent, SessionRecord]:
    """The agent whose session this conversation is, and the session (404 if none)."""
    for agent in state_of(request).live.snapshot.agents.values():
        record = await agent.store.get(agent.id, conversation_id)
        if record is not None:
            return agent, record
    raise not_found(conversation_id)


@router.post("/conversations", response_model=None)
async def create_conversation(body: ConversationRequest, request: Request) -> dict[str, Any]:
    """A new conversation; its ``items`` are stored for ``metadata.agent`` (or the only agent)."""
    state = state_of(request)
    agents = state.live.snapshot.agents
    named = (body.metadata or {}).get("agent")
    if named is None and len(agents) == 1:
        named = next(iter(agents))
    if named is not None and named not in agents:
        raise OpenAIError(400, f"metadata.agent: no agent {named!r}", param="metadata.agent")
    if body.items and named is None:
        raise OpenAIError(
            400,
            "metadata.agent must name the agent whose conversation this is when items are given",
            param="metadata.agent",
        )
    conversation_id = f"conv_{uuid4().hex}"
    if named is not None:
        agent = agents[named]
        messages = await unclaimed(state, agent, conversation_id, item_messages(body.items))
        await agent.store.set(agent.id, conversation_id, with_ids(messages), ttl=agent.ttl)
    return conversation_object(conversation_id, time.time(), body.metadata)


@router.get("/conversations/{conversation_id}", response_model=None)
async def get_conversation(conversation_id: ConversationIdPath, request: Request) -> dict[str, Any]:
    agent, record = await holder(request, conversation_id)
    return conversation_object(conversation_id, record.created_at.timestamp(), {"agent": agent.id})


@router.get("/conversations/{conversation_id}/items", response_model=None)
async def list_items(
    conversation_id: ConversationIdPath,
    request: Request,
    order: Literal["asc", "desc"] = "desc",
    limit: int = Query(20, ge=1, le=100),
    after: MessageId | None = None,
) -> dict[str, Any]:
    """The conversation's messages as items (newest first by default, as OpenAI's)."""
    _, record = await holder(request, conversation_id)
    items = conversation_items(record.messages, conversation_id)
    if order == "desc":
        items.reverse()
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }


@router.delete("/conversations/{conversation_id}", response_model=None)
async def delete_conversation(
    conversation_id: ConversationIdPath, request: Request
) -> dict[str, Any]:
    """Delete the conversation's session under every agent that holds one (404 if none)."""
    agents = list(state_of(request).live.snapshot.agents.values())
    cleared = await asyncio.gather(*(a.store.clear(a.id, conversation_id) for a in agents))
    if not any(cleared):
        raise not_found(conversation_id)
    return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}
