"""Sessions: listing across agents (keyset-paginated), one session's messages, setting and
clearing a context, and cleanup of idle sessions.

Only sessions of agents in the current config are visible: a database shared with other
deployments may hold more, and those are not this server's to show or delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from ..durations import MAX_AGE_SECONDS, parse_duration
from ..messages import MAX_SESSION_ID_LENGTH
from .bodies import SESSION_ID_PATTERN, CleanupRequest, SetContextRequest
from .errors import ApiError
from .message_lookup import unclaimed
from .route import ServerRoute
from .session_order import SortKey, pack_cursor, unpack_cursor, usage_page
from .state import state_of

if TYPE_CHECKING:
    from datetime import datetime

    from ..agent import Agent
    from ..storage import SessionInfo, SessionRecord, SessionStore

router = APIRouter(prefix="/v1", tags=["sessions"], route_class=ServerRoute)

SessionIdPath = Annotated[
    str, Path(min_length=1, max_length=MAX_SESSION_ID_LENGTH, pattern=SESSION_ID_PATTERN)
]


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def summary_of(info: SessionInfo) -> dict[str, Any]:
    return {
        "agent_id": info.agent_id,
        "session_id": info.session_id,
        "message_count": info.message_count,
        "created_at": iso(info.created_at),
        "updated_at": iso(info.updated_at),
        "expires_at": iso(info.expires_at),
        "store": info.store,
        **session_usage(info),
    }


def session_usage(info: SessionInfo | SessionRecord) -> dict[str, int]:
    """The session's token sums and stored turns."""
    return {
        "input_tokens": info.input_tokens,
        "output_tokens": info.output_tokens,
        "total_tokens": info.input_tokens + info.output_tokens,
        "turns": info.turns,
    }


def record_of(record: SessionRecord, store: str) -> dict[str, Any]:
    return {
        "agent_id": record.agent_id,
        "session_id": record.session_id,
        "message_count": len(record.messages),
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "expires_at": iso(record.expires_at),
        "store": store,
        **session_usage(record),
        "messages": record.messages,
        "summary": record.summary,
    }


def encode_cursor(agent_id: str, session_id: str) -> str:
    return pack_cursor(agent_id, session_id)


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The ``(agent_id, session_id)`` a cursor continues after (422 if it is not ours)."""
    agent_id, session_id = unpack_cursor(cursor, (str, str))
    return agent_id, session_id


def _seconds(value: str | float) -> float:
    return min(parse_duration(value), MAX_AGE_SECONDS)


def _older_than(value: str | float | None) -> float | None:
    return None if value is None else _seconds(value)


def _selected(agents: dict[str, Agent], agent_id: str | None) -> list[Agent]:
    """The agents a request is about, by id (404 for an unknown one)."""
    if agent_id is None:
        return [agents[name] for name in sorted(agents)]
    if agent_id not in agents:
        raise ApiError(404, f"unknown agent {agent_id!r}; loaded: {sorted(agents)}")
    return [agents[agent_id]]


async def _count(agents: Sequence[Agent], inactive_for: float | None) -> int:
    """Matching sessions of ``agents``: one listing per distinct store."""
    wanted: dict[int, tuple[SessionStore, set[str]]] = {}
    for agent in agents:
        wanted.setdefault(id(agent.store), (agent.store, set()))[1].add(agent.id)
    only = agents[0].id if len(agents) == 1 else None
    listings = await asyncio.gather(
        *(store.list(only, inactive_for=inactive_for) for store, _ in wanted.values())
    )
    return sum(
        sum(1 for info in rows if info.agent_id in ids)
        for (_, ids), rows in zip(wanted.values(), listings, strict=True)
    )


async def _page(
    agents: Iterable[Agent], after: tuple[str, str] | None, limit: int, inactive_for: float | None
) -> list[SessionInfo]:
    """Up to ``limit`` sessions ordered by (agent_id, session_id), continuing after ``after``."""
    rows: list[SessionInfo] = []
    for agent in agents:
        if after is not None and agent.id < after[0]:
            continue
        resume = after if after is not None and agent.id == after[0] else None
        rows += await agent.store.list(
            agent.id, inactive_for=inactive_for, after=resume, limit=limit - len(rows)
        )
        if len(rows) >= limit:
            break
    return rows


@router.get("/sessions")
async def list_sessions(
    request: Request,
    agent: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    cursor: str | None = None,
    older_than: str | None = None,
    sort: SortKey = "id",
) -> dict[str, Any]:
    """Session summaries of the loaded agents, ordered by (agent_id, session_id), or by
    usage (most first) with ``sort``."""
    agents = _selected(dict(state_of(request).live.snapshot.agents), agent)
    inactive_for = _older_than(older_than)
    if sort != "id":
        (page, next_page), total = await asyncio.gather(
            usage_page(agents, sort, cursor, limit, inactive_for), _count(agents, inactive_for)
        )
        return {"sessions": [summary_of(r) for r in page], "next_cursor": next_page, "total": total}
    after = decode_cursor(cursor) if cursor else None
    rows, total = await asyncio.gather(
        _page(agents, after, limit + 1, inactive_for), _count(agents, inactive_for)
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].agent_id, rows[-1].session_id)
    return {"sessions": [summary_of(r) for r in rows], "next_cursor": next_cursor, "total": total}


@router.post("/sessions/cleanup")
async def cleanup_sessions(body: CleanupRequest, request: Request) -> dict[str, int]:
    """Delete sessions idle for ``older_than`` (and expired ones); ``dry_run`` only counts."""
    agents = _selected(dict(state_of(request).live.snapshot.agents), body.agent_id)
    seconds = _seconds(body.older_than)
    if body.dry_run:
        return {"would_delete": await _count(agents, seconds)}
    counts = [await a.store.delete_inactive(seconds, a.id) for a in agents]
    return {"deleted": sum(counts)}


async def _session(agent: Agent, session_id: str) -> dict[str, Any]:
    record = await agent.ctxmgr.aget_session(session_id)
    if record is None:
        raise ApiError(404, f"agent {agent.id!r} has no session {session_id!r}")
    return record_of(record, agent.store.name)


@router.get("/agents/{agent_id}/sessions/{session_id}")
async def get_session(agent_id: str, session_id: SessionIdPath, request: Request) -> Any:
    """The session's messages, summary and times (404 when it does not exist)."""
    return await _session(state_of(request).agent(agent_id), session_id)


@router.put("/agents/{agent_id}/sessions/{session_id}")
async def set_session(
    agent_id: str, session_id: SessionIdPath, body: SetContextRequest, request: Request
) -> Any:
    """Replace the session's context (creating it if needed); returns it as GET does."""
    state = state_of(request)
    agent = state.agent(agent_id)
    messages = await unclaimed(state, agent, session_id, body.messages)
    await agent.ctxmgr.aset_session_context(session_id, messages)
    return await _session(agent, session_id)


@router.delete("/agents/{agent_id}/sessions/{session_id}")
async def clear_session(agent_id: str, session_id: SessionIdPath, request: Request) -> Any:
    """Delete the session: ``{"deleted": true}`` when there was one."""
    agent = state_of(request).agent(agent_id)
    return {"deleted": await agent.ctxmgr.aclear_session(session_id)}
