"""The life of MCP connections against real SDK servers, one of them misbehaving on purpose
(tests/mcp_servers/unruly_server.py: it ignores SIGTERM and its closed stdin, starts a
grandchild, hangs in initialize, floods list_changed, blocks its event loop): fast and
orphan-free shutdown (in-process and ``vel-runner serve`` in a subprocess, processes counted
after), pings that leave a busy server alone, coalesced relists, bounded logs, cut
descriptions, the connect timeout's default and error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers.mcp_servers import DEMO, UNRULY, http_server, kill_tagged, processes_with
from helpers.net import free_port
from helpers.server import ServerProcess
from helpers.waiting import wait_until

from vel_runner.runtime import Runtime
from vel_runner.tools import MCPSource, ToolCallError

HEAD = "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n"
STUBBORN = ["--ignore-term", "--linger", "--child"]


@pytest.fixture
def tag() -> Iterator[str]:
    """A mark for the command lines of the processes this test starts; what is left of them
    after the test is killed (the test has failed by then)."""
    mark = f"vel-test-{uuid.uuid4().hex[:12]}"
    yield mark
    kill_tagged(mark)


def unruly(name: str, tag: str, *flags: str, connect_timeout: str = "30s") -> str:
    """The ``tools:`` entry of the unruly server over stdio."""
    args = ", ".join(f"'{arg}'" for arg in [UNRULY, "stdio", *flags, "--tag", tag])
    return (
        f"  {name}:\n    type: mcp\n    command: {sys.executable}\n    args: [{args}]\n"
        f"    allow: ['*']\n    connect_timeout: {connect_timeout}\n"
    )


def agents(*tools: str) -> str:
    return (
        "agents:\n  - id: a\n    model: {provider: offline, model: e}\n"
        f"    tools: [{', '.join(tools)}]\n"
    )


@contextlib.asynccontextmanager
async def runtime_for(tmp_path: Path, text: str) -> AsyncIterator[Runtime]:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    runtime = await Runtime.from_paths([path], watch=False, close_grace=0.0)
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.close()


def stubborn_source(tag: str, *flags: str, **decl: Any) -> MCPSource:
    args = [UNRULY, "stdio", *flags, "--tag", tag]
    return MCPSource("u", {"command": sys.executable, "args": args, **decl})


# -- shutdown ---------------------------------------------------------------------------------
async def test_closing_servers_is_fast(tmp_path: Path) -> None:
    """A stdio and an HTTP server close in well under a second each, together (it took 5 s:
    the owner only noticed the close at its next ping)."""
    port = free_port()
    text = (
        HEAD
        + f"  local:\n    type: mcp\n    command: {sys.executable}\n    args: [{DEMO}, stdio]\n"
        + "    allow: [add]\n"
        + f"  web:\n    type: mcp\n    url: http://127.0.0.1:{port}/mcp\n    allow: [add]\n"
        + agents("local", "web")
    )
    with http_server(port):
        async with runtime_for(tmp_path, text) as runtime:
            sources = runtime.snapshot.tool_sources
            assert all(s.unavailable() is None for s in sources.values())
            started = time.perf_counter()
            await runtime.close()
            took = time.perf_counter() - started
    assert took < 3.0, f"closing two MCP servers took {took:.1f} s"
    assert all(s.error == "closed" for s in sources.values())


async def test_close_stops_a_server_that_ignores_sigterm_and_its_child(tag: str) -> None:
    """It ignores its closed stdin and SIGTERM, and has a grandchild that ignores SIGTERM:
    the whole process group is gone when close returns."""
    source = stubborn_source(tag, *STUBBORN)
    await source.open()
    assert source.unavailable() is None
    await wait_until(lambda: len(processes_with(tag)) == 2, what="the server and its child")
    await source.aclose()
    await wait_until(lambda: not processes_with(tag), 2, what="no process left")


async def test_a_reload_that_drops_a_stubborn_server_leaves_no_process(
    tmp_path: Path, tag: str
) -> None:
    text = HEAD + unruly("stubborn", tag, *STUBBORN) + agents("stubborn")
    async with runtime_for(tmp_path, text) as runtime:
        assert runtime.snapshot.tool_sources["stubborn"].unavailable() is None
        await wait_until(lambda: len(processes_with(tag)) == 2, what="the server and its child")
        (tmp_path / "agents.yaml").write_text(HEAD.replace("tools:\n", "") + agents())
        assert await runtime.reload()
        assert not runtime.snapshot.tool_sources
        await wait_until(lambda: not processes_with(tag), 15, what="the dropped server to end")


async def test_closing_while_a_server_initializes_stops_it(tag: str) -> None:
    """Its initialize hangs: close cuts the start short and the process group still goes."""
    source = stubborn_source(tag, *STUBBORN, "--init-delay", "60", connect_timeout="120s")
    opening = asyncio.create_task(source.open())
    await wait_until(lambda: len(processes_with(tag)) == 2, 30, what="the server to start")
    assert not opening.done() and source.connection.state == "connecting"
    started = time.perf_counter()
    await source.aclose()
    assert time.perf_counter() - started < 8
    await wait_until(lambda: not processes_with(tag), 2, what="no process left")
    await asyncio.wait_for(opening, 5)


@pytest.mark.slow
def test_sigterm_to_serve_while_a_server_initializes_leaves_no_process(
    tmp_path: Path, tag: str
) -> None:
    """``vel-runner serve`` is starting a server whose initialize hangs (it died on the
    signal's default action, leaving the server running): three trials side by side, none
    leaves one."""

    def trial(number: int) -> None:
        mark = f"{tag}-t{number}"
        path = tmp_path / f"agents-{number}.yaml"
        flags = (*STUBBORN, "--init-delay", "60")
        text = HEAD + unruly("slow", mark, *flags, connect_timeout="120s") + agents("slow")
        path.write_text(text)
        server = ServerProcess("--config", str(path))
        try:
            deadline = time.monotonic() + 30
            while len(processes_with(mark)) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(processes_with(mark)) == 2, server.output()
            # serve is waiting in the server's initialize by now: nothing outside the process
            # shows the moment it sends it, so this one pause stays
            time.sleep(0.3)
            server.signal(signal.SIGTERM)
            assert server.wait(20) == 0, server.output()
        finally:
            server.stop()
        deadline = time.monotonic() + 2
        while processes_with(mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with(mark) == [], "an MCP server outlived vel-runner serve"

    with ThreadPoolExecutor(3) as pool:
        for done in [pool.submit(trial, number) for number in range(3)]:
            done.result()


@pytest.mark.slow
async def test_sigterm_to_serve_stops_fast_and_leaves_no_process(tmp_path: Path, tag: str) -> None:
    """With a well-behaved server serve stops about as fast as without one (it took 5-7 s);
    with a stubborn one as well, within the SDK's kill escalation, and nothing is left."""
    fine = f"  fine:\n    type: mcp\n    command: {sys.executable}\n"
    fine += f"    args: [{DEMO}, stdio, {tag}]\n"
    for extra, budget in (("", 4.5), (unruly("stubborn", tag, *STUBBORN), 8.0)):
        path = tmp_path / "agents.yaml"
        path.write_text(HEAD + fine + "    allow: [add]\n" + extra + agents("fine"))
        server = ServerProcess("--config", str(path))
        try:
            await server.ready(60)
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            code = server.wait(20)  # uvicorn raises the signal again once it is done
            took = time.monotonic() - started
            assert code in (0, -signal.SIGTERM), server.output()
        finally:
            server.stop()
        assert took < budget, f"serve took {took:.1f} s to stop"
        await wait_until(lambda: not processes_with(tag), 2, what="no process left")


# -- a busy server, a flood, a dead server ----------------------------------------------------
async def test_a_busy_server_is_not_pinged_to_death(tag: str) -> None:
    """A call holds the server's event loop longer than a ping may take: the ping must not
    restart the server under the call (the model read "closed the connection")."""
    source = stubborn_source(tag, connect_timeout="30s", timeout="60s")
    async with source:
        connection = source.connection
        connection.ping_interval, connection.connect_timeout = 0.1, 0.5
        pid = await source.call_tool("pid", {})
        assert await source.call_tool("block", {"seconds": 4}) == {"result": "blocked 4.0"}
        assert await source.call_tool("pid", {}) == pid
        assert connection.attempts == 1
        # idle again, the pings go on and are answered
        await asyncio.sleep(0.5)
        assert connection.attempts == 1 and source.unavailable() is None


async def test_a_list_changed_flood_is_coalesced(
    tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    """20,000 notifications: a few listings (one in flight, one pending), a few log lines
    (it made one listing and two log lines per notification: a core pinned for minutes)."""
    caplog.set_level(logging.DEBUG, logger="vel_runner.tools.mcp")
    source = stubborn_source(tag, timeout="120s")
    async with source:
        connection = source.connection
        started = time.perf_counter()
        assert await source.call_tool("flood", {"count": 20_000}) == {"result": "sent 20000"}
        await wait_until(lambda: not connection.relisting, 60, what="the relists to end")
        took = time.perf_counter() - started
        served = await source.call_tool("listings", {})
        assert served == {"result": connection.listings}
        assert connection.listings < 150, connection.listings
        assert "echo" in source.listed and source.tools_version == 1  # same tools: no rebuild
    lines = [r for r in caplog.records if r.name == "vel_runner.tools.mcp"]
    assert len(lines) < 10, [r.getMessage() for r in lines]
    assert took < 120


async def test_a_dead_server_warns_once_not_every_attempt(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens at its url: one WARNING, then DEBUG while it stays down (it warned at
    every attempt, every <= 10 s, forever); requests fail fast with the reason."""
    caplog.set_level(logging.DEBUG, logger="vel_runner.tools.mcp")
    source = MCPSource("gone", {"url": f"http://127.0.0.1:{free_port()}/mcp", "allow": ["*"]})
    source.connection.backoff = (0.01, 0.02)
    async with source:
        await wait_until(lambda: source.connection.attempts >= 30, 30, what="30 attempts")
        assert "MCP server 'gone' is not connected: ConnectError" in str(source.unavailable())
        started = time.perf_counter()
        with pytest.raises(ToolCallError, match="'gone' is not connected: ConnectError"):
            await source.connection.request(lambda session: session.send_ping(), 20, "ping")
        assert time.perf_counter() - started < 5
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "MCP server 'gone' is down" in warnings[0].getMessage()


# -- what the model is offered ----------------------------------------------------------------
async def test_a_1mb_tool_description_is_cut(tag: str) -> None:
    source = stubborn_source(tag)
    async with source:
        spec = next(s for s in source.list_tools() if s.name == "described")
        assert len(source.listed["described"].description) > 1_000_000
        assert len(spec.description) < 4200
        total = len(source.listed["described"].description)
        assert spec.description.endswith(f"... [description cut to 4096 of {total} characters]")


async def test_connect_timeout_defaults_to_30s_and_its_error_says_what_to_raise(tag: str) -> None:
    assert MCPSource("x", {"command": "x"}).connect_timeout == 30
    source = stubborn_source(tag, "--init-delay", "30", connect_timeout="1s")
    with pytest.raises(ToolCallError) as caught:
        await source.connect_once()
    assert "no answer within 1s" in str(caught.value)
    assert "raise tools.u.connect_timeout" in str(caught.value)
    await wait_until(lambda: not processes_with(tag), 10, what="the probe's server to end")


@pytest.mark.slow
async def test_six_python_servers_start_at_once_within_the_default_timeout(
    tmp_path: Path,
) -> None:
    """Three of the demo server and three of mcp-server-time (from PyPI), started together on
    this machine with the default connect_timeout (10 s was too short on 2 cores): all
    connected, and each answers through the agent."""
    entries = []
    for n in range(3):
        entries.append(
            f"  demo{n}:\n    type: mcp\n    command: {sys.executable}\n"
            f"    args: [{DEMO}, stdio]\n    allow: [add]\n    prefix: d{n}_\n"
        )
        entries.append(
            f"  time{n}:\n    type: mcp\n    command: {sys.executable}\n"
            f"    args: [-m, mcp_server_time, --local-timezone, UTC]\n"
            f"    allow: [get_current_time]\n    prefix: t{n}_\n"
        )
    names = [f"{kind}{n}" for n in range(3) for kind in ("demo", "time")]
    async with runtime_for(tmp_path, HEAD + "".join(entries) + agents(*names)) as runtime:
        sources = runtime.snapshot.tool_sources
        assert {n: s.unavailable() for n, s in sources.items()} == dict.fromkeys(names)
        assert all(s.connect_timeout == 30 for s in sources.values())
        async with runtime.lease("a") as agent:
            answer = await agent.run({"message": '/tool t2_get_current_time {"timezone": "UTC"}'})
            assert '"timezone": "UTC"' in answer or "UTC" in answer, answer
            assert '{"result": 3}' in await agent.run({"message": '/tool d1_add {"a": 1, "b": 2}'})
