"""Tool approval over HTTP, on a real uvicorn: ``GET /v1/approvals`` lists the calls waiting
for a person across the loaded agents (each store asked once; only this config's agents)."""

from __future__ import annotations

import httpx
from helpers.approvals import waiting_step
from helpers.server import echo_agent, served_agents

from vel_runner import FunctionTool
from vel_runner.storage.memory import MemoryStore
from vel_runner.tools.base import ToolCall


def wipe(path: str) -> str:
    """Wipe a path."""
    return f"wiped {path}"


def peek(path: str) -> str:
    """Look at a path."""
    return f"{path} holds 3 files"


TOOLS = [FunctionTool(wipe, approval="required", approval_timeout=600), FunctionTool(peek)]
SPECS = {spec.name: spec for tool in TOOLS for spec in tool.list_tools()}
WIPE = ToolCall("call_1", "wipe", '{"path": "/srv/data"}')
PEEK = ToolCall("call_2", "peek", '{"path": "/srv"}')


async def test_pending_approvals_are_listed_across_agents() -> None:
    shared = MemoryStore()
    ops = echo_agent("ops", tools=TOOLS, session_storage=shared)
    other = echo_agent("other", tools=TOOLS, session_storage=shared)
    await ops.ctxmgr.aset_session_context("s1", waiting_step([WIPE, PEEK], SPECS))
    await other.ctxmgr.aset_session_context("s9", waiting_step([WIPE], SPECS))
    await shared.set("retired", "s1", waiting_step([WIPE], SPECS))  # not in this config
    await ops.ctxmgr.aset_session_context("plain", [{"role": "user", "content": "hi"}])
    async with served_agents(ops, other) as base, httpx.AsyncClient(base_url=base) as http:
        listed = (await http.get("/v1/approvals")).json()["approvals"]
        assert [(a["agent_id"], a["session_id"], a["tool"]) for a in listed] == [
            ("ops", "s1", "wipe"),
            ("other", "s9", "wipe"),
        ]
        first = listed[0]
        assert first["input"] == {"path": "/srv/data"} and first["tool_call_id"] == "call_1"
        assert first["id"].startswith("apr_") and first["expires_at"] is not None
        only = (await http.get("/v1/approvals", params={"agent": "other"})).json()
        assert [a["session_id"] for a in only["approvals"]] == ["s9"]
        missing = await http.get("/v1/approvals", params={"agent": "nobody"})
        assert missing.status_code == 404 and "unknown agent 'nobody'" in missing.text


async def test_the_approvals_route_needs_the_api_key() -> None:
    served = served_agents(echo_agent("ops"), api_key="k-123")
    async with served as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/v1/approvals")).status_code == 401
        headers = {"Authorization": "Bearer k-123"}
        answer = await http.get("/v1/approvals", headers=headers)
        assert answer.status_code == 200 and answer.json() == {"approvals": []}
