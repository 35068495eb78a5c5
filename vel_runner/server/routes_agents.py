"""``/v1/agents`` and turns: ``POST /v1/agents/{agent_id}/runs`` (JSON or SSE)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, aclosing
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..errors import VelError
from ..events import STREAM_HEADER, Event
from .models import RunRequest
from .route import ServerRoute
from .sse import DONE, data_frame, sse_response, wants_stream
from .state import state_of

if TYPE_CHECKING:
    from ..agent import Agent

log = logging.getLogger("vel_runner.server")
router = APIRouter(prefix="/v1", tags=["agents"], route_class=ServerRoute)


def agent_info(agent: Agent) -> dict[str, Any]:
    """What ``GET /v1/agents`` shows of an agent: no keys, no URLs with credentials."""
    return {
        "id": agent.id,
        "provider": agent.provider_name,
        "provider_type": agent.provider.type,
        "model": agent.model_name,
        "store": agent.store.name,
        "store_type": agent.store.kind,
        "context_mode": agent.context_mode,
        "max_history": agent.ctxmgr.max_history,
        "ttl": agent.ttl,
        "tools": agent.toolbox.names,
        "tool_calls": agent.toolbox.tally.calls,
        "tool_errors": agent.toolbox.tally.errors,
        "tool_calls_stuck": agent.toolbox.stuck_calls(),
        "tools_unavailable": agent.toolbox.unavailable(),  # MCP servers down, and why
    }


@router.get("/agents")
async def list_agents(request: Request) -> dict[str, Any]:
    """Every agent of the current config, ordered by id."""
    agents = state_of(request).live.snapshot.agents
    return {"agents": [agent_info(agents[name]) for name in sorted(agents)]}


async def turn_frames(
    events: AsyncIterator[Event], agent_id: str, lease: AsyncExitStack
) -> AsyncIterator[bytes]:
    """The turn's events as SSE frames, then ``[DONE]``; a failure was already sent as an
    ``error`` event by the agent, so it only ends the stream here."""
    async with lease:
        try:
            async with aclosing(events):  # type: ignore[type-var]
                async for event in events:
                    yield data_frame(event)
        except VelError as exc:
            log.warning("streamed turn of %s failed: %s", agent_id, exc)
    yield DONE


@router.post("/agents/{agent_id}/runs", response_model=None)
async def run_agent(agent_id: str, body: RunRequest, request: Request) -> Response:
    """One turn. JSON by default; SSE with ``"stream": true`` or ``Accept: text/event-stream``."""
    agent, lease = await state_of(request).lease(agent_id)
    payload = {"message": body.message}
    streaming = False
    try:
        if wants_stream(request.headers.get("accept"), body.stream):
            events = agent.run_stream(payload, body.session_id)  # validates before streaming
            streaming = True  # from here on the stream holds (and releases) the lease
            return sse_response(turn_frames(events, agent_id, lease), headers=dict([STREAM_HEADER]))
        result = await agent.run_turn(payload, body.session_id)
    finally:
        if not streaming:
            await lease.aclose()
    return JSONResponse(
        {
            "output": result.output,
            "session_id": result.session_id,
            "run_id": result.run_id,
            "usage": result.usage.as_dict() if result.usage is not None else None,
        }
    )
