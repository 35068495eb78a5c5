"""MCP benchmark (issue 11). Run: python benchmarks/bench_mcp.py [--quick] [--runs N]

One call of the ``add`` tool of tests/mcp_servers/demo_server.py (a real SDK ``MCPServer``)
over streamable HTTP on loopback and over stdio:

- ``toolbox``: the call as an agent's tool loop makes it (``agent.toolbox.call``: argument
  parsing, the MCP source, result mapping, the model's result text);
- ``run``: a whole agent run with that one call (offline echo model: two model steps);
- ``direct``: the same call with the SDK's own ``ClientSession.call_tool`` on the same server
  (HTTP: a session of its own to the same server process; stdio: the source's own session,
  as two stdio processes differ by more than what is measured on a shared machine).

Interleaved call by call, medians reported. Goal: toolbox <= 1.10x direct.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = str(ROOT / "tests" / "mcp_servers" / "demo_server.py")
sys.path.insert(0, str(ROOT / "tests"))

from helpers.net import free_port  # noqa: E402

from vel_runner import Agent  # noqa: E402
from vel_runner.tools import ToolCall  # noqa: E402
from vel_runner.tools.mcp_source import MCPSource  # noqa: E402


@contextlib.contextmanager
def http_server(port: int) -> Any:
    import httpx

    proc = subprocess.Popen(
        [sys.executable, SERVER, "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(400):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=0.5)
                break
            time.sleep(0.05)
        yield
    finally:
        proc.kill()
        proc.wait()


@contextlib.asynccontextmanager
async def direct_session(decl: dict[str, Any]) -> AsyncIterator[Any]:
    """A plain SDK client session on the HTTP server ``decl`` describes."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with contextlib.AsyncExitStack() as stack:
        streams = await stack.enter_async_context(streamable_http_client(decl["url"]))
        session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
        await session.initialize()
        yield session


async def compare(decl: dict[str, Any], runs: int) -> dict[str, list[float]]:
    source = MCPSource("demo", {**decl, "allow": ["add"]})
    await source.open()
    agent = Agent("bench", model={"provider": "echo", "model": "e"}, tools=[source])
    call = ToolCall("call_1", "add", '{"a": 2, "b": 3}')
    times: dict[str, list[float]] = {"toolbox": [], "run": [], "direct": []}
    try:
        async with contextlib.AsyncExitStack() as stack:
            session = source.session
            if "url" in decl:
                session = await stack.enter_async_context(direct_session(decl))

            async def direct() -> Any:
                return await session.call_tool("add", {"a": 2, "b": 3})

            async def toolbox() -> Any:
                result = await agent.toolbox.call(call)
                assert result.error is None, result.error
                return result

            async def run() -> Any:
                return await agent.run({"message": '/tool add {"a": 2, "b": 3}'})

            cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("direct", direct),
                ("toolbox", toolbox),
                ("run", run),
            ]
            for _ in range(max(20, runs // 10)):  # warm up
                for _, case in cases:
                    await case()
            for index in range(runs):
                order = cases if index % 2 == 0 else cases[::-1]
                for name, case in order:
                    start = time.perf_counter()
                    await case()
                    times[name].append(time.perf_counter() - start)
    finally:
        await source.aclose()
    return times


def report(label: str, times: dict[str, list[float]]) -> float:
    direct = statistics.median(times["direct"])
    print(f"{label}:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:8s} median {median * 1e3:7.3f} ms  ({median / direct:.2f}x direct)")
    return statistics.median(times["toolbox"]) / direct


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 runs instead of 1000")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs = args.runs or (100 if args.quick else 1000)
    port = free_port()
    ratios = []
    with http_server(port):
        http = {"url": f"http://127.0.0.1:{port}/mcp"}
        ratios.append(report("streamable HTTP", await compare(http, runs)))
    stdio = {"command": sys.executable, "args": [SERVER, "stdio"]}
    ratios.append(report("stdio", await compare(stdio, runs)))
    worst = max(ratios)
    verdict = "ok" if worst <= 1.10 else "MISSED"
    print(f"toolbox vs direct: worst {worst:.2f}x (goal <= 1.10x): {verdict}")
    return 0 if worst <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
