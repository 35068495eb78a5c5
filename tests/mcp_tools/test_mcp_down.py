"""One MCP server down must not take its agents down: a real streamable-HTTP server stopped
and started again under a served agent that also has a python tool.

It answered ``503 tool_unavailable`` to every turn of the agent (even ``hello``) while the
server was down and for seconds after it was back. Now: plain answers and the other tools
keep working, a call to the server's tools is an error result the model reads (its tools stay
offered), ``/readyz`` is degraded and ``/v1/agents`` names the server, and it comes back by
itself (at once when a call needs it)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from helpers.mcp_servers import http_server
from helpers.net import free_port
from helpers.server import serving
from helpers.waiting import wait_until

from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app


def config(port: int) -> str:
    return f"""\
version: 1
providers:
  offline: {{type: echo}}
tools:
  web:
    type: mcp
    url: http://127.0.0.1:{port}/mcp
    allow: [add]
    prefix: w_
    connect_timeout: 20s
  calc: {{type: python, function: "vel_runner.demo_tools:calculate"}}
agents:
  - id: a
    model: {{provider: offline, model: e}}
    tools: [web, calc]
"""


async def run(http: httpx.AsyncClient, message: str) -> str:
    answer = await http.post("/v1/agents/a/runs", json={"message": message})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["output"])


@pytest.mark.slow
async def test_a_stopped_http_server_degrades_its_agent_and_comes_back(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "agents.yaml"
    path.write_text(config(port))
    add = '/tool w_add {"a": 2, "b": 3}'
    with http_server(port) as server:
        runtime = await Runtime.from_paths([path], watch=False)
        async with serving(create_app(runtime)) as base, httpx.AsyncClient(base_url=base) as http:
            source = runtime.snapshot.tool_sources["web"]
            assert '{"result": 5}' in await run(http, add)
            server.kill()
            server.wait()
            # the call that meets it gone is an error result; so is the next, once it is down
            assert '{"error": ' in await run(http, add)
            await wait_until(lambda: source.unavailable() is not None, 10, what="it is down")
            down = await run(http, add)
            assert '{"error": ' in down and "MCP server 'web' is not connected" in down
            # everything else goes on
            assert (await run(http, "hello")).endswith(": hello")
            calc = await run(http, '/tool calc {"expression": "6 * 7"}')
            assert calc.endswith("calc -> 42")
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert "MCP server 'web' is not connected" in ready.json()["tool_sources_down"]["web"]
            (agent,) = (await http.get("/v1/agents")).json()["agents"]
            assert agent["tools"] == ["w_add", "calc"]  # still offered while it is down
            assert "MCP server 'web' is not connected" in agent["tools_unavailable"][0]

            # back: the first call that needs it reconnects at once
            with http_server(port) as again:
                assert '{"result": 5}' in await run(http, add)
                assert (await http.get("/readyz")).json()["status"] == "ready"
                again.kill()
                again.wait()
            await wait_until(lambda: source.unavailable() is not None, 10, what="it is down")
            # back again, with no call: the connection finds it by itself
            with http_server(port):
                await wait_until(lambda: source.unavailable() is None, 15, what="it is back")
                assert (await http.get("/readyz")).json()["status"] == "ready"
                assert (await http.get("/v1/agents")).json()["agents"][0]["tools_unavailable"] == []
                assert '{"result": 5}' in await run(http, add)
