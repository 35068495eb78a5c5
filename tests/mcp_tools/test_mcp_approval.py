"""Approval of an MCP tool end to end: agents.yaml puts a tool of a real SDK server
(tests/mcp_servers/demo_server.py over stdio) under ``approval: [glob]``, the model calls it
through the runs API on a real uvicorn, and the server's own side (a file its ``tally`` tool
appends to) shows when the call really ran."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.mcp_servers import demo_config
from helpers.server import serving, sse_json, stored_messages

from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

CONFIG = demo_config("add, tally", 'approval: ["tal*"]')


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    path = tmp_path / "agents.yaml"
    path.write_text(CONFIG)
    runtime = await Runtime.from_paths([path], watch=False, close_grace=0.0)
    async with runtime, serving(create_app(runtime)) as url:
        yield url


def runs_on_server(tally: Path) -> int:
    """How many calls of ``tally`` the MCP server really ran (its file's lines)."""
    return len(tally.read_text().splitlines()) if tally.exists() else 0


async def run(http: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await http.post("/v1/agents/ops/runs", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_mcp_call_waits_for_approval_then_runs_exactly_once(
    server: str, tmp_path: Path
) -> None:
    """The call under the glob waits (not run on the server), the same step's other call runs;
    approving runs it once on the server and the answer follows; a second answer is a 409
    that runs nothing."""
    tally = tmp_path / "tally.txt"
    ask = f'/tool d_tally {{"path": "{tally}"}}\n/tool d_add {{"a": 2, "b": 3}}'
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        asked = await run(http, message=ask, session_id="s")
        assert asked["status"] == "awaiting_approval"
        (approval,) = asked["approvals"]
        assert (approval["tool"], approval["input"]) == ("d_tally", {"path": str(tally)})
        assert runs_on_server(tally) == 0  # the MCP server never saw the call
        stored = await stored_messages(server, "ops", "s")
        assert [m["role"] for m in stored] == ["user", "assistant", "tool"]
        assert json.loads(stored[-1]["content"]) == {"result": 5}  # d_add ran at once

        answer = {"id": approval["id"], "approved": True}
        done = await run(http, approvals=[answer], session_id="s")
        assert done["status"] == "completed"
        assert done["output"] == (
            'echo (4 messages): d_tally -> {"result": 1}; d_add -> {"result": 5}'
        )
        assert runs_on_server(tally) == 1

        again = await http.post(
            "/v1/agents/ops/runs", json={"approvals": [answer], "session_id": "s"}
        )
        assert again.status_code == 409 and approval["id"] in again.json()["error"]["message"]
        assert runs_on_server(tally) == 1  # answered once, ran once


async def test_a_denied_mcp_call_never_runs_and_the_model_reads_the_reason(
    server: str, tmp_path: Path
) -> None:
    """Denying gives the model the denial with the person's reason; the server never runs it."""
    tally = tmp_path / "tally.txt"
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        asked = await run(http, message=f'/tool d_tally {{"path": "{tally}"}}', session_id="d")
        (approval,) = asked["approvals"]
        answer = {"id": approval["id"], "approved": False, "reason": "not on a Friday"}
        done = await run(http, approvals=[answer], session_id="d")
        assert done["status"] == "completed"
        assert done["output"].startswith("echo (3 messages): d_tally -> ")
        assert "not approved" in done["output"] and "reason: not on a Friday" in done["output"]
        assert runs_on_server(tally) == 0
        stored = await stored_messages(server, "ops", "d")
        assert stored[2]["metadata"]["approval"] == {
            "id": approval["id"],
            "approved": False,
            "reason": "not on a Friday",
        }


async def test_the_stream_asks_for_the_mcp_call_and_the_answer_streams_its_result(
    server: str, tmp_path: Path
) -> None:
    """On the runs SSE stream: ``tool-approval-request`` after the MCP call's input, the
    stream ends with ``tool-calls``; the answer's stream starts with the server's result."""
    tally = tmp_path / "tally.txt"
    body = {"message": f'/tool d_tally {{"path": "{tally}"}}', "session_id": "st", "stream": True}
    async with httpx.AsyncClient(base_url=server, timeout=60) as http:
        asked = sse_json((await http.post("/v1/agents/ops/runs", json=body)).text)
        kinds = [event["type"] for event in asked]
        assert kinds.index("tool-approval-request") == kinds.index("tool-input-available") + 1
        request = asked[kinds.index("tool-approval-request")]
        assert asked[-1]["finishReason"] == "tool-calls" and runs_on_server(tally) == 0
        answer = {"id": request["approvalId"], "approved": True}
        body = {"approvals": [answer], "session_id": "st", "stream": True}
        done = sse_json((await http.post("/v1/agents/ops/runs", json=body)).text)
        ran = next(event for event in done if event["type"] == "tool-output-available")
        assert ran["toolCallId"] == request["toolCallId"] and ran["output"] == {"result": 1}
        assert runs_on_server(tally) == 1
