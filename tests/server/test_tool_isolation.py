"""A tool can fail in any way without harming the server or the other tools: ``sys.exit`` and
``KeyboardInterrupt`` are error results (a real ``vel-runner serve`` keeps serving), and sync
tools stuck past their timeout hold only their own tool's threads, are visible (metric, agent
listing, dashboard), and neither starve the other tools nor the config reload."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from helpers.server import ServerProcess, sse_json
from helpers.waiting import wait_until

from vel_runner import Agent
from vel_runner.tools import FunctionTool
from vel_runner.tools.threads import DEFAULT_THREADS, ToolThreads, stuck_calls
from vel_runner.tui.agents_summary import agent_totals
from vel_runner.tui.api_types import AgentInfo

ECHO = {"provider": "echo", "model": "echo-1"}

HOSTILE_TOOLS = '''
import sys
import time


def boom(code: int) -> str:
    """Exits the process, as argparse and click do."""
    sys.exit(code)


async def aboom(code: int) -> str:
    """Exits from a coroutine."""
    sys.exit(code)


def interrupt() -> str:
    """Raises what Ctrl-C raises."""
    raise KeyboardInterrupt


def stuck(seconds: float) -> str:
    """Hangs far past its timeout."""
    time.sleep(seconds)
    return "late"
'''

CONFIG = """\
version: 1
providers:
  offline: {type: echo}
tools:
  boom: {type: python, function: "hostile_tools:boom"}
  aboom: {type: python, function: "hostile_tools:aboom"}
  interrupt: {type: python, function: "hostile_tools:interrupt"}
  stuck: {type: python, function: "hostile_tools:stuck", timeout: 1s}
  calculator: {type: python, function: "vel_runner.demo_tools:calculate", timeout: 5s}
agents:
  - id: a
    model: {provider: offline, model: echo-1}
    tools: [boom, aboom, interrupt, stuck, calculator]
"""


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, Path]]:
    (tmp_path / "hostile_tools.py").write_text(HOSTILE_TOOLS)
    config = tmp_path / "agents.yaml"
    config.write_text(CONFIG)
    server = ServerProcess("-c", str(config), "--no-access-log")
    try:
        await server.ready()
        yield server, config
    finally:
        server.stop()


async def run(http: httpx.AsyncClient, message: str, **body: object) -> dict:
    response = await http.post("/v1/agents/a/runs", json={"message": message, **body})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
async def test_a_tool_that_exits_is_an_error_result_and_serve_keeps_serving(
    served: tuple[ServerProcess, Path],
) -> None:
    server, _ = served
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        for message, raised in [
            ('/tool boom {"code": 0}', "SystemExit(0)"),
            ('/tool boom {"code": 3}', "SystemExit(3)"),
            ('/tool aboom {"code": 0}', "SystemExit(0)"),
            ("/tool interrupt {}", "KeyboardInterrupt()"),
        ]:
            output = (await run(http, message, session_id="s"))["output"]
            assert raised in output and "the tool tried to stop the process" in output
            assert server.process.poll() is None
        streamed = await http.post(
            "/v1/agents/a/runs", json={"message": '/tool boom {"code": 0}', "stream": True}
        )
        frames = sse_json(streamed.text)
        errors = [f for f in frames if f["type"] == "tool-output-error"]
        assert len(errors) == 1 and "SystemExit(0)" in errors[0]["errorText"]
        assert frames[-1]["type"] == "finish" and streamed.text.endswith("data: [DONE]\n\n")
        stored = (await http.get("/v1/agents/a/sessions/s")).json()["messages"]
        assert sum(m["role"] == "tool" for m in stored) == 4  # every turn stored its result
        assert (await run(http, "still there?"))["output"] == "echo (1 messages): still there?"
        assert (await http.get("/healthz")).status_code == 200
    assert server.process.poll() is None, server.output()


@pytest.mark.slow
async def test_stuck_sync_tools_starve_neither_other_tools_nor_the_reload(
    served: tuple[ServerProcess, Path],
) -> None:
    server, config = served
    # more stuck calls than asyncio's default executor has threads, on any machine
    calls = max(6, min(32, (os.cpu_count() or 1) + 4))
    held = min(calls, DEFAULT_THREADS)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        started = time.monotonic()
        outputs = await asyncio.gather(
            *(run(http, '/tool stuck {"seconds": 60}') for _ in range(calls))
        )
        assert time.monotonic() - started < 10  # each ended with its 1 s timeout (or at once)
        for reply in outputs:
            assert re.search(
                r"did not finish within 1s|threads are all still running", reply["output"]
            )
        # their threads still run: the calculator has threads of its own
        started = time.monotonic()
        reply = await run(http, '/tool calculator {"expression": "6 * 7"}')
        assert reply["output"] == "echo (3 messages): calculator -> 42"
        assert time.monotonic() - started < 3
        # and a save of agents.yaml applies now, not when they end
        config.write_text(CONFIG + "  - id: b\n    model: {provider: offline, model: echo-1}\n")

        async def reloaded() -> bool:
            agents = (await http.get("/v1/agents")).json()["agents"]
            return [agent["id"] for agent in agents] == ["a", "b"]

        await wait_until(reloaded, 10, interval=0.1, what="the reload")
        # visible: the metric and the agent listing (the dashboard's source)
        metrics = (await http.get("/metrics")).text
        assert f'vel_tool_calls_stuck{{tool="stuck"}} {held}.0' in metrics
        agents = {a["id"]: a for a in (await http.get("/v1/agents")).json()["agents"]}
        assert agents["a"]["tool_calls_stuck"] == {"stuck": held}
        assert agents["a"]["tool_calls"] == calls + 1  # counted across the reload
        assert agents["b"]["tool_calls_stuck"] == {}
    # and they do not hold the process: it exits on SIGTERM while they still run
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    code = await asyncio.to_thread(server.wait, 30)
    assert time.monotonic() - started < 15 and code in (0, -signal.SIGTERM), server.output()


def test_the_dashboard_says_how_many_calls_are_stuck() -> None:
    listed = {"id": "a", "tools": ["stuck", "calc"], "tool_calls": 12, "tool_errors": 6}
    stuck = AgentInfo.parse({**listed, "tool_calls_stuck": {"stuck": 6, "calc": 0}})
    fine = AgentInfo.parse(listed)  # and what an older server sends
    assert stuck.tool_calls_stuck == (("stuck", 6),) and fine.stuck == 0
    (_, _, (calls, errors, *_)), (_, _, (calls_ok, *_)) = agent_totals(
        [stuck, AgentInfo.parse({**listed, "id": "b"})], []
    )
    assert (calls, errors, calls_ok) == ("12 (6 stuck)", "6", "12")


async def test_stuck_calls_hold_only_their_tools_threads() -> None:
    release = threading.Event()

    def hang() -> str:
        """Waits for the test."""
        release.wait(30)
        return "released"

    def quick() -> str:
        """Answers at once."""
        return "quick"

    hanging = FunctionTool(hang, timeout=0.2, threads=2)
    agent = Agent("a", model=ECHO, tools=[hanging, quick])
    try:
        first = await agent.run_turn("/tool hang {}\n/tool hang {}\n/tool quick {}")
        results = [m["content"] for m in first.messages if m["role"] == "tool"]
        assert results == [json.dumps({"error": "hang did not finish within 0.2s"})] * 2 + ["quick"]
        # stuck once past their own deadline (counted from when each got its thread)
        await wait_until(lambda: hanging.stuck_calls == {"hang": 2}, what="two stuck calls")
        assert stuck_calls()["hang"] == 2 and agent.toolbox.stuck_calls() == {"hang": 2}
        started = time.monotonic()
        second = await agent.run("/tool hang {}\n/tool quick {}")
        assert time.monotonic() - started < 0.2  # refused at once, not after its timeout
        assert "its 2 threads are all still running" in second and "quick -> quick" in second
        release.set()
        await wait_until(lambda: hanging.stuck_calls == {}, what="the threads to end")
        assert (await agent.run("/tool hang {}")).endswith("hang -> released")
    finally:
        release.set()


async def test_tool_threads_are_reused_and_are_daemons() -> None:
    names: list[str] = []

    def where() -> str:
        names.append(threading.current_thread().name)
        assert threading.current_thread().daemon  # a call that never returns cannot
        return "ok"  # keep the process from exiting

    threads = ToolThreads("where", limit=3)
    for _ in range(5):
        await threads.run(where, {}, timeout=5)
    assert len(set(names)) == 1 and names[0].startswith("tool-where-")
    await asyncio.gather(*(threads.run(where, {}, timeout=5) for _ in range(6)))
    assert threads.running == 0 and threads.stuck == 0


async def test_a_thread_limit_must_be_positive() -> None:
    from vel_runner.tools import ToolDefinitionError

    def tool() -> str:
        """A tool."""
        return ""

    with pytest.raises(ToolDefinitionError, match="threads must be a positive integer"):
        FunctionTool(tool, threads=0)


async def test_exits_and_interrupts_in_any_tool_are_error_results() -> None:
    def sync_exit() -> str:
        """Exits."""
        raise SystemExit(2)

    async def async_interrupt() -> str:
        """Ctrl-C, from a coroutine."""
        raise KeyboardInterrupt

    async def generator_exit() -> str:
        """What closing a generator raises."""
        raise GeneratorExit

    helper = Agent("helper", model=ECHO, tools=[sync_exit])
    agent = Agent("a", model=ECHO, tools=[sync_exit, async_interrupt, generator_exit, helper])
    answer = await agent.run(
        "/tool sync_exit {}\n/tool async_interrupt {}\n/tool generator_exit {}\n"
        '/tool helper {"input": "/tool sync_exit {}"}',
        session_id="s",
    )
    assert "sync_exit -> " in answer and "SystemExit(2): the tool tried to stop" in answer
    assert "KeyboardInterrupt(): the tool tried to stop the process" in answer
    assert "GeneratorExit(): the tool tried to stop the process" in answer
    assert "helper -> echo (3 messages): sync_exit -> " in answer  # inside an agent tool too
    assert len(await agent.ctxmgr.aget_session_context("s")) == 7


async def test_tool_counts_outlive_a_reload(tmp_path: Path) -> None:
    from vel_runner.runtime import Runtime

    path = tmp_path / "agents.yaml"
    head = "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n"
    calc = "  calc: {type: python, function: 'vel_runner.demo_tools:calculate'}\n"
    agents = "agents:\n  - id: a\n    model: {provider: offline, model: e}\n    tools: [calc]\n"
    path.write_text(head + calc + agents)
    async with await Runtime.from_paths([path], watch=False, close_grace=0) as runtime:
        await runtime.agent("a").run(
            '/tool calc {"expression": "1/0"}\n/tool calc {"expression": "2"}'
        )
        path.write_text(head + calc + agents + "    instructions: Be brief.\n")
        assert await runtime.reload()
        tally = runtime.agent("a").toolbox.tally
        assert (tally.calls, tally.errors) == (2, 1)


async def test_threads_are_shared_per_tool_and_function() -> None:
    def lookup(q: str) -> str:
        """Looks up."""
        return q

    first, again = FunctionTool(lookup), FunctionTool(lookup)  # a reload builds it again
    assert first.threads is again.threads
    assert FunctionTool(lookup, name="other").threads is not first.threads
