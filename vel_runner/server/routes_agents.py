"""``/v1/agents`` and turns: ``POST /v1/agents/{agent_id}/runs`` (JSON or SSE)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..protocols.runs import RunEvents, run_object
from ..protocols.ui_stream import STREAM_HEADER
from .bodies import RunRequest
from .route import ServerRoute
from .sse import wants_stream
from .state import state_of
from .streaming import client_words, lease_turn

if TYPE_CHECKING:
    from ..agent import Agent

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


@router.post("/agents/{agent_id}/runs", response_model=None)
async def run_agent(agent_id: str, body: RunRequest, request: Request) -> Response:
    """One turn. JSON by default; SSE with ``"stream": true`` or ``Accept: text/event-stream``."""
    payload = {"message": body.message}
    async with await lease_turn(request, agent_id) as held:
        if wants_stream(request.headers.get("accept"), body.stream):
            headers = dict([STREAM_HEADER])
            encoder = RunEvents(describe=client_words())
            return held.stream(
                payload, body.session_id, encoder, f"agent {agent_id}", headers=headers
            )
        result = await held.agent.run_turn(payload, body.session_id)
    return JSONResponse(run_object(result))
