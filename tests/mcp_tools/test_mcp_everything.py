"""A real third-party server: @modelcontextprotocol/server-everything (npm, pinned in
tests/js_mcp_servers), over stdio and streamable HTTP. Its ``simulate-research-query`` runs only
as an MCP task (``execution.taskSupport: "required"``): it was offered and always failed; now it
is left out, and ``vel-runner tools`` says why. A 5 MB result comes back whole while the
connection is pinged hard (the ping used to restart a server busy with a big read)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.mcp_servers import everything_script, http_server
from helpers.net import free_port
from helpers.waiting import wait_until

from vel_runner.tools import MCPSource, Toolbox, ToolCall

TASK_TOOL = "simulate-research-query"
WHY = "it runs only as an MCP task (taskSupport: required), which vel-runner does not run"


@pytest.fixture(scope="module")
def script() -> str:
    return everything_script()


async def check_task_tool_left_out(source: MCPSource) -> None:
    # the server registers its task tools once the session is initialized
    await wait_until(lambda: TASK_TOOL in source.listed, 20, what="its task tool")
    names = [spec.name for spec in source.list_tools()]
    assert "echo" in names and "get-sum" in names
    assert TASK_TOOL not in names
    assert source.left_out[TASK_TOOL] == WHY
    result = await Toolbox([source]).call(ToolCall("c1", TASK_TOOL, '{"topic": "x"}'))
    assert result.error is not None and result.error.startswith(f"unknown tool {TASK_TOOL!r}")


async def test_stdio_task_tools_left_out_and_a_big_result_arrives_whole(script: str) -> None:
    decl = {"command": "node", "args": [script, "stdio"], "timeout": "60s"}
    async with MCPSource("everything", decl) as source:
        assert source.unavailable() is None, source.error
        await check_task_tool_left_out(source)
        connection = source.connection
        connection.ping_interval, connection.connect_timeout = 0.05, 0.3
        message = "y" * 5_000_000
        for _ in range(3):
            assert await source.call_tool("echo", {"message": message}) == f"Echo: {message}"
        assert connection.attempts == 1
        assert await source.call_tool("get-sum", {"a": 2, "b": 40}) == "The sum of 2 and 40 is 42."


async def test_streamable_http_task_tools_left_out(script: str) -> None:
    port = free_port()
    with http_server(port, ["node", script, "streamableHttp"], env={"PORT": str(port)}):
        decl = {"url": f"http://127.0.0.1:{port}/mcp"}
        async with MCPSource("everything", decl) as source:
            assert source.unavailable() is None, source.error
            await check_task_tool_left_out(source)
            assert await source.call_tool("echo", {"message": "hi"}) == "Echo: hi"


def test_vel_runner_tools_says_why_the_task_tool_is_not_offered(
    script: str, tmp_path: Path
) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(
        "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n"
        f"  everything:\n    type: mcp\n    command: node\n    args: [{script}, stdio]\n"
        f"    allow: [echo, {TASK_TOOL}]\n"
        "agents:\n  - id: a\n    model: {provider: offline, model: e}\n    tools: [everything]\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "tools", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "agent a: 1 tool\n  echo  <- MCP server everything (stdio), its tool 'echo'" in (
        done.stdout
    )
    assert f"  not offered: everything.{TASK_TOOL}: {WHY}" in done.stdout
