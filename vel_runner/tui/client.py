"""An async client of the server's HTTP API: typed results and errors people can read.

Every failure becomes a :class:`MonitorError` subclass (unreachable, unauthorized, bad JSON,
an API error), so the dashboard handles one type. The API key travels only in the
``Authorization`` header and never appears in an error message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from .api_types import (
    AgentInfo,
    ApprovalInfo,
    BadResponse,
    ConfigInfo,
    ErrorResponse,
    MonitorError,
    RunOutcome,
    ServerEvent,
    ServerUnreachable,
    SessionDetail,
    SessionSummary,
    Unauthorized,
)

#: The largest page ``GET /v1/sessions`` serves.
PAGE_SIZE = 10_000
#: The server pings ``/v1/events`` every 15 s; three missed pings mean the stream is dead.
EVENTS_READ_TIMEOUT = 45.0
#: An answered approval runs the tool and the model's next steps before the reply comes.
RUN_READ_TIMEOUT = 300.0
#: The first item ``events()`` yields once the stream is open (not a server event).
CONNECTED = "connected"


class ApiClient:
    """``await client.sessions()`` etc. against ``base_url``; one connection pool, reused."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise ServerUnreachable(_unreachable(self.base_url, error)) from None
        _raise_for_status(response)
        return response

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return _json(await self._send(method, path, **kwargs), f"{method} {path}")

    async def agents(self) -> list[AgentInfo]:
        data = await self._request("GET", "/v1/agents")
        return [AgentInfo.parse(item) for item in _list(data, "agents")]

    async def config(self) -> ConfigInfo:
        return ConfigInfo.parse(await self._request("GET", "/v1/config"))

    async def sessions(self) -> list[SessionSummary]:
        """Every live session, following ``next_cursor`` page by page."""
        result: list[SessionSummary] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            response = await self._send("GET", "/v1/sessions", params=params)
            # Decoding 10,000 sessions takes tens of milliseconds: off the UI's event loop.
            page, cursor = await asyncio.to_thread(_sessions_page, response)
            result.extend(page)
            if not cursor:
                return result

    async def session(self, agent_id: str, session_id: str) -> SessionDetail:
        return SessionDetail.parse(await self._request("GET", _session_path(agent_id, session_id)))

    async def clear_session(self, agent_id: str, session_id: str) -> bool:
        data = await self._request("DELETE", _session_path(agent_id, session_id))
        return bool(data.get("deleted")) if isinstance(data, dict) else False

    async def cleanup(
        self, older_than: str, *, agent_id: str | None = None, dry_run: bool = False
    ) -> int:
        """How many sessions inactive for ``older_than`` were (or, dry, would be) deleted."""
        body: dict[str, Any] = {"older_than": older_than, "dry_run": dry_run}
        if agent_id:
            body["agent_id"] = agent_id
        data = await self._request("POST", "/v1/sessions/cleanup", json=body)
        name = "would_delete" if dry_run else "deleted"
        count = data.get(name) if isinstance(data, dict) else None
        if not isinstance(count, int):
            raise BadResponse(f"POST /v1/sessions/cleanup returned {data!r:.80}")
        return count

    async def approvals(self) -> list[ApprovalInfo]:
        """Every tool call waiting for a person (``GET /v1/approvals``)."""
        data = await self._request("GET", "/v1/approvals")
        return [ApprovalInfo.parse(item) for item in _list(data, "approvals")]

    async def answer_approval(
        self, approval: ApprovalInfo, *, approved: bool, reason: str | None = None
    ) -> RunOutcome:
        """Approve or deny ``approval`` through the runs API; the run then goes on (the
        approved call runs, the model answers) and this returns how it ended."""
        answer: dict[str, Any] = {"id": approval.id, "approved": approved}
        if reason:
            answer["reason"] = reason
        body = {"session_id": approval.session_id, "approvals": [answer]}
        path = f"/v1/agents/{quote(approval.agent_id, safe='')}/runs"
        timeout = httpx.Timeout(10.0, read=RUN_READ_TIMEOUT)
        return RunOutcome.parse(await self._request("POST", path, json=body, timeout=timeout))

    async def events(self) -> AsyncIterator[ServerEvent]:
        """The ``/v1/events`` SSE stream, led by a ``connected`` item once it is open.

        Raises :class:`ServerUnreachable` when the stream drops or ends.
        """
        timeout = httpx.Timeout(10.0, read=EVENTS_READ_TIMEOUT)
        try:
            path = "/v1/events?turns=true"  # with turn-started/turn-finished, for live numbers
            async with self._http.stream("GET", path, timeout=timeout) as response:
                if response.is_error:
                    await response.aread()
                    _raise_for_status(response)
                yield ServerEvent(kind=CONNECTED, data={})
                async for event in _parse_sse(response.aiter_lines()):
                    yield event
        except httpx.TransportError as error:
            raise ServerUnreachable(_unreachable(self.base_url, error)) from None
        raise ServerUnreachable(f"the event stream from {self.base_url} ended")


async def _parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[ServerEvent]:
    """Server-sent events -> :class:`ServerEvent` (comments and malformed data skipped)."""
    kind, data_lines = "message", list[str]()
    async for line in lines:
        if not line:
            if data_lines:
                try:
                    data = json.loads("\n".join(data_lines))
                except ValueError:
                    data = None
                if isinstance(data, dict):
                    yield ServerEvent(kind=str(data.get("kind") or kind), data=data)
            kind, data_lines = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data_lines.append(value)


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise BadResponse(f"{what} did not return JSON") from None


def _sessions_page(response: httpx.Response) -> tuple[list[SessionSummary], str | None]:
    """One ``GET /v1/sessions`` page: its sessions and the next cursor."""
    data = _json(response, "GET /v1/sessions")
    sessions = [SessionSummary.parse(item) for item in _list(data, "sessions")]
    cursor = data.get("next_cursor")
    return sessions, cursor if isinstance(cursor, str) and cursor else None


def _session_path(agent_id: str, session_id: str) -> str:
    return f"/v1/agents/{quote(agent_id, safe='')}/sessions/{quote(session_id, safe='')}"


def _list(data: object, name: str) -> list[Any]:
    items = data.get(name) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise BadResponse(f"the server's answer has no {name!r} list")
    return items


def _unreachable(base_url: str, error: httpx.TransportError) -> str:
    reason = type(error).__name__
    return f"cannot reach {base_url} ({reason})"


def _raise_for_status(response: httpx.Response) -> None:
    if not response.is_error:
        return
    if response.status_code == 401:
        raise Unauthorized("the server refused the API key (401): pass the right --api-key")
    try:
        error = response.json().get("error") or {}
        kind, message = str(error.get("type")), str(error.get("message"))
    except (ValueError, AttributeError):
        kind, message = "http_error", response.reason_phrase or "error"
    raise ErrorResponse(response.status_code, kind, message)


__all__ = ["ApiClient", "MonitorError"]
