"""``GET /v1/approvals``: the tool calls waiting for a person, across the loaded agents.

Each store is asked once (several agents may share it), and only sessions of agents in the
current config are shown, as ``/v1/sessions`` does. Answers go through the runs API
(``POST /v1/agents/{id}/runs`` with ``approvals``), so an answer takes the session's turn like
any run: see :mod:`vel_runner.approvals` for why it runs a call exactly once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from ..storage.base import ApprovalIndex
from .errors import ApiError
from .route import ServerRoute
from .state import state_of

if TYPE_CHECKING:
    from ..approvals import PendingApproval

router = APIRouter(prefix="/v1", tags=["approvals"], route_class=ServerRoute)


@router.get("/approvals")
async def list_approvals(request: Request, agent: str | None = None) -> dict[str, Any]:
    """Pending approvals, ordered by agent and session, oldest request first within one."""
    agents = state_of(request).live.snapshot.agents
    if agent is not None and agent not in agents:
        raise ApiError(404, f"unknown agent {agent!r}; loaded: {sorted(agents)}")
    wanted = [agents[agent]] if agent is not None else list(agents.values())
    stores: dict[int, ApprovalIndex] = {
        id(a.store): a.store for a in wanted if isinstance(a.store, ApprovalIndex)
    }
    listings = await asyncio.gather(*(s.pending_approvals(agent) for s in stores.values()))
    found: list[PendingApproval] = [
        pending
        for store, rows in zip(stores.values(), listings, strict=True)
        for pending in rows
        # an agent's sessions in a store it no longer uses are not this config's to answer
        if pending.agent_id in agents and agents[pending.agent_id].store is store
    ]
    found.sort(key=lambda p: (p.agent_id, p.session_id, p.approval.requested_at))
    return {"approvals": [p.as_dict() for p in found]}
