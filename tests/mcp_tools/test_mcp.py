"""MCP servers as tool sources, against real MCP servers written with the SDK's own server side
(tests/mcp_servers/demo_server.py): one a stdio subprocess, one over streamable HTTP on a
loopback port. Tools listed and filtered, round trips through an agent, a server killed
mid-call, list_changed, reloads that keep / replace / remove a server, secrets, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.mcp_servers import DEMO, http_server
from helpers.net import free_port
from helpers.server import serving
from helpers.waiting import wait_until

from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app
from vel_runner.tools import ToolCall, ToolCallError

SERVER = DEMO
SECRET = "sk-mcp-very-secret-4242"

HEAD = "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n"
STDIO = (
    HEAD
    + f"""\
  demo:
    type: mcp
    command: {sys.executable}
    args: [{SERVER}, stdio]
    env: {{DEMO_TOKEN: "${{DEMO_TOKEN}}"}}
    allow: [add, echo, "list_*", slow, pid, fail, pixel, grow, extra, env_names, delete_everything]
    deny: ["delete_*"]
    prefix: d_
    timeout: 20s
    connect_timeout: 30s
agents:
  - id: a
    model: {{provider: offline, model: e}}
    tools: [demo]
  - id: b
    model: {{provider: offline, model: e}}
    tools: [demo.echo]
"""
)


def http_config(port: int, allow: str) -> str:
    """One agent ``a`` using the demo server over HTTP on ``port`` (tools ``allow``)."""
    return (
        HEAD
        + f"""\
  web:
    type: mcp
    url: http://127.0.0.1:{port}/mcp
    headers: {{Authorization: "Bearer ${{DEMO_TOKEN}}"}}
    allow: [{allow}]
    connect_timeout: 20s
agents:
  - id: a
    model: {{provider: offline, model: e}}
    tools: [web]
"""
    )


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@contextlib.asynccontextmanager
async def runtime_for(path: Path) -> AsyncIterator[Runtime]:
    runtime = await Runtime.from_paths([path], watch=False, close_grace=0.0)
    async with runtime:
        yield runtime


async def ask(runtime: Runtime, agent: str, line: str) -> str:
    async with runtime.lease(agent) as live:
        return await live.run({"message": line})


@pytest.fixture(autouse=True)
def demo_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_TOKEN", SECRET)


async def test_stdio_tools_listed_filtered_and_called_through_an_agent(tmp_path: Path) -> None:
    async with runtime_for(write(tmp_path / "agents.yaml", STDIO)) as runtime:
        a = runtime.agent("a")
        names = a.toolbox.names
        assert "d_add" in names and "d_list_colors" in names
        assert "d_delete_everything" not in names  # deny wins over allow
        assert runtime.agent("b").toolbox.names == ["d_echo"]  # one tool of the server
        answer = await ask(runtime, "a", '/tool d_add {"a": 2, "b": 40}')
        assert "d_add -> " in answer and json.dumps({"result": 42}) in answer
        answer = await ask(runtime, "b", '/tool d_echo {"text": "hi there"}')
        assert '"hi there"' in answer
        # isError results take the tool error path; images are described, not dropped
        answer = await ask(runtime, "a", '/tool d_fail {"reason": "nope"}')
        assert '{"error": ' in answer
        answer = await ask(runtime, "a", "/tool d_pixel {}")
        assert "[image image/png" in answer
        # only the declared env reaches the server (not the runner's own variables)
        names_seen = await runtime.snapshot.tool_sources["demo"].call_tool("d_env_names", {})
        assert "DEMO_TOKEN" in names_seen["result"]
        assert not any(name.startswith("PYTEST") for name in names_seen["result"])


async def test_list_changed_refreshes_the_tools(tmp_path: Path) -> None:
    async with runtime_for(write(tmp_path / "agents.yaml", STDIO)) as runtime:
        a = runtime.agent("a")
        assert "d_extra" not in a.toolbox.names
        await ask(runtime, "a", "/tool d_grow {}")
        await wait_until(lambda: "d_extra" in a.toolbox.names, 5)
        assert "extra!" in await ask(runtime, "a", "/tool d_extra {}")


async def test_server_killed_mid_call_then_back(tmp_path: Path) -> None:
    async with runtime_for(write(tmp_path / "agents.yaml", STDIO)) as runtime:
        source = runtime.snapshot.tool_sources["demo"]
        pid = (await source.call_tool("d_pid", {}))["result"]
        started = tmp_path / "started"
        call = json.dumps({"seconds": 30, "started": str(started)})
        run = asyncio.create_task(ask(runtime, "a", f"/tool d_slow {call}"))
        await wait_until(started.exists, 20, what="the call to reach the server")
        os.kill(pid, signal.SIGKILL)
        answer = await asyncio.wait_for(run, 10)
        assert '{"error": ' in answer and "closed the connection" in answer  # the run went on
        answer = await ask(runtime, "a", '/tool d_add {"a": 1, "b": 1}')
        assert '{"result": 2}' in answer
        second = (await source.call_tool("d_pid", {}))["result"]
        assert second != pid
        # killed while idle: the next call waits for the new process instead of failing
        attempts = source.connection.attempts
        os.kill(second, signal.SIGKILL)
        await wait_until(lambda: source.connection.attempts > attempts, 20, what="a reconnect")
        answer = await ask(runtime, "a", '/tool d_add {"a": 2, "b": 2}')
        assert '{"result": 4}' in answer


async def test_reload_keeps_replaces_and_removes_a_server(tmp_path: Path) -> None:
    path = write(tmp_path / "agents.yaml", STDIO)
    async with runtime_for(path) as runtime:
        first = runtime.snapshot.tool_sources["demo"]
        pid = (await first.call_tool("d_pid", {}))["result"]
        # unchanged server, another agent added: same connection, same process
        write(path, STDIO + "  - id: c\n    model: {provider: offline, model: e}\n")
        assert await runtime.reload()
        assert runtime.snapshot.tool_sources["demo"] is first
        assert (await first.call_tool("d_pid", {}))["result"] == pid
        # changed server: a new connection, the old one closed
        write(path, STDIO.replace("timeout: 20s", "timeout: 21s"))
        assert await runtime.reload()
        second = runtime.snapshot.tool_sources["demo"]
        assert second is not first
        assert (await second.call_tool("d_pid", {}))["result"] != pid
        await wait_until(lambda: first.unavailable() is not None, 10)
        await wait_until(lambda: not _alive(pid), 10)  # the old server process ended
        # removed: closed
        write(path, "version: 1\nproviders: {offline: {type: echo}}\nagents:\n"
              "  - id: a\n    model: {provider: offline, model: e}\n")  # fmt: skip
        assert await runtime.reload()
        assert not runtime.snapshot.tool_sources
        await wait_until(lambda: second.unavailable() is not None, 10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_http_server_round_trip_and_restart(tmp_path: Path) -> None:
    port = free_port()
    config = http_config(port, "add, slow, bearer_ok")
    with http_server(port):
        async with runtime_for(write(tmp_path / "agents.yaml", config)) as runtime:
            assert runtime.agent("a").toolbox.names == ["add", "slow", "bearer_ok"]
            answer = await ask(runtime, "a", '/tool add {"a": 3, "b": 4}')
            assert '{"result": 7}' in answer
            answer = await ask(runtime, "a", "/tool bearer_ok {}")  # the header reached it
            assert '{"result": true}' in answer
    with http_server(port) as proc:
        async with runtime_for(write(tmp_path / "agents.yaml", config)) as runtime:
            started = tmp_path / "started"
            call = json.dumps({"seconds": 30, "started": str(started)})
            run = asyncio.create_task(ask(runtime, "a", f"/tool slow {call}"))
            await wait_until(started.exists, 20, what="the call to reach the server")
            proc.kill()
            proc.wait()
            answer = await asyncio.wait_for(run, 20)
            assert '{"error": ' in answer
            with http_server(port):
                answer = await ask(runtime, "a", '/tool add {"a": 1, "b": 2}')
                assert '{"result": 3}' in answer


async def test_a_server_that_cannot_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """/readyz is degraded (200), naming it and why; its agents keep answering, and a call to
    its tools is an error result naming it; the others keep working; no secret shows in any
    answer or log."""
    caplog.set_level(logging.DEBUG)
    config = STDIO.replace(f"command: {sys.executable}", "command: /no/such/mcp-server")
    config = config.replace("connect_timeout: 30s", "connect_timeout: 2s").replace(
        "  - id: b\n", "  - id: other\n"
    )
    config = config.replace("    tools: [demo.echo]\n", "")
    path = write(tmp_path / "agents.yaml", config)
    runtime = await Runtime.from_paths([path], watch=False)
    async with serving(create_app(runtime)) as base, httpx.AsyncClient(base_url=base) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        reason = ready.json()["tool_sources_down"]["demo"]
        assert "MCP server 'demo' is not connected" in reason and "/no/such/mcp-server" in reason
        hello = await http.post("/v1/agents/a/runs", json={"message": "hello"})
        assert hello.status_code == 200 and hello.json()["output"].endswith(": hello")
        # It never listed a tool, so none is offered; a model that calls one anyway reads why.
        answer = await http.post("/v1/agents/a/runs", json={"message": "/tool d_add {}"})
        assert answer.status_code == 200 and answer.json()["output"].endswith("/tool d_add {}")
        result = await runtime.agent("a").toolbox.call(ToolCall("c1", "d_add", "{}"))
        assert result.error is not None and "MCP server 'demo' is not connected" in result.error
        other = await http.post("/v1/agents/other/runs", json={"message": "hello"})
        assert other.status_code == 200
        agents = {a["id"]: a for a in (await http.get("/v1/agents")).json()["agents"]}
        assert "MCP server 'demo' is not connected" in agents["a"]["tools_unavailable"][0]
        assert agents["other"]["tools_unavailable"] == []
        bodies = [ready.text, answer.text]
        for route in ("/v1/config", "/v1/agents"):
            bodies.append((await http.get(route)).text)
    everything = "\n".join([*bodies, caplog.text])
    assert SECRET not in everything


def test_validate_offline_warns_and_does_not_import_mcp(tmp_path: Path) -> None:
    path = write(tmp_path / "agents.yaml", STDIO.replace("    allow: [", "    #allow: ["))
    code = (
        "import sys\nfrom vel_runner.cli import main\nrc = main(['validate', sys.argv[1]])\n"
        "assert 'mcp' not in sys.modules, 'validate imported mcp'\nsys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "agents.yaml:5:3: tools.demo: warning: MCP server 'demo' has no allow list" in (
        done.stdout
    )  # at the server's key


def test_bad_declarations_are_errors_at_the_server(tmp_path: Path) -> None:
    from vel_runner.config.validate import check_config

    def errors(text: str) -> list[str]:
        _, issues = check_config([write(tmp_path / "agents.yaml", text)])
        return [f"{i.line}: {i.message}" for i in issues if i.severity == "error"]

    one_of = "5: MCP server 'demo' needs exactly one of url (streamable HTTP) and command"
    both = STDIO.replace("    command:", "    url: http://x/mcp\n    command:")
    assert [e[: len(one_of)] for e in errors(both)] == [one_of]
    neither = STDIO.replace(f"    command: {sys.executable}\n", "")
    assert [e[: len(one_of)] for e in errors(neither)] == [one_of]
    headers = STDIO.replace("    env:", "    headers: {A: b}\n    env:")
    assert errors(headers) == ["9: headers are for a server at a url"]
    assert errors(STDIO.replace("[demo.echo]", "[nodemo.echo]")) == [
        "21: tool 'nodemo.echo' is not declared"
    ]
    assert errors(STDIO.replace("prefix: d_", "prefix: 'bad prefix'"))  # schema pattern
    literal = STDIO.replace('"${DEMO_TOKEN}"}', '"sk-literal-1234", DEBUG: "1", ROOT: /srv/data}')
    _, issues = check_config([write(tmp_path / "agents.yaml", literal)])
    assert [(i.path, i.message, i.hint) for i in issues if i.code == "secret"] == [
        ("tools.demo.env.DEMO_TOKEN", "a secret is written in the file",
         'read it from the environment instead: "${DEMO_TOKEN}"')
    ]  # fmt: skip


def test_validate_connect_lists_tools_and_reports_at_the_yaml_line(tmp_path: Path) -> None:
    broken = (
        "  broken:\n    type: mcp\n    command: /no/such/server\n"
        f'    env: {{TOKEN: "{SECRET}"}}\n    allow: [x]\n    connect_timeout: 5s\n'
    )
    config = (
        STDIO.replace("allow: [add, echo,", 'allow: [add, "nothing_*", echo,')
        .replace("[demo.echo]", "[demo.echo, demo.nope, demo.delete_everything]")
        .replace("agents:\n", broken + "  d_add: {type: agent, agent: b}\nagents:\n")
        .replace("tools: [demo]", "tools: [demo, d_add]")
    )
    path = write(tmp_path / "agents.yaml", config)
    lines = config.splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if text in line)

    done = subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "validate", "--connect", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert f":{line_of('nothing_*')}:" in _line_with(out, "'nothing_*' matches none")
    assert f":{line_of('  broken:')}:" in _line_with(out, "'broken' cannot be used")
    assert "/no/such/server" in out
    assert f":{line_of('demo.nope')}:" in _line_with(out, "does not expose a tool 'nope'")
    assert "'delete_everything'" in out  # denied, so not exposed to an agent naming it
    assert "'demo' cannot be used" not in out
    clash = _line_with(out, "gives the model a tool 'd_add'")
    assert f":{line_of('tools: [demo, d_add]')}:" in clash and "as 'demo' does" in clash
    assert SECRET not in out + done.stderr
    # without --connect the same file is valid offline (references are checked on connect)
    offline = subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert offline.returncode == 0, offline.stdout


def _line_with(out: str, text: str) -> str:
    return next((line for line in out.splitlines() if text in line), f"<no line with {text!r}>")


def test_results_map_every_content_type() -> None:
    """Structured content as JSON, text as text, isError as the error path, the rest
    described (never dropped)."""
    import mcp.types as t

    from vel_runner.tools.base import ToolCallError
    from vel_runner.tools.mcp_results import result_value

    def result(*blocks: Any, **kw: Any) -> Any:
        return t.CallToolResult(content=list(blocks), **kw)

    text = t.TextContent(type="text", text="hello")
    assert result_value(result(text), "x") == "hello"
    assert result_value(result(text, structured_content={"n": 1}), "x") == {"n": 1}
    with pytest.raises(ToolCallError, match=r"^hello$"):
        result_value(result(text, is_error=True), "x")
    with pytest.raises(ToolCallError, match="x failed"):
        result_value(result(is_error=True), "x")
    blob = t.BlobResourceContents(uri="file:///a.bin", mime_type="application/zip", blob="AAAA")
    doc = t.TextResourceContents(uri="file:///a.txt", text="file text")
    mixed = result_value(
        result(
            text,
            t.ImageContent(type="image", data="AAAAAAAA", mime_type="image/png"),
            t.AudioContent(type="audio", data="AAAA", mime_type="audio/wav"),
            t.EmbeddedResource(type="resource", resource=doc),
            t.EmbeddedResource(type="resource", resource=blob),
            t.ResourceLink(type="resource_link", uri="file:///b", name="b", description="B"),
        ),
        "x",
    )
    assert mixed.splitlines() == [
        "hello",
        "[image image/png, about 6 bytes, not shown]",
        "[audio audio/wav, about 3 bytes, not shown]",
        "file text",
        "[resource file:///a.bin (application/zip), not shown]",
        "[resource link file:///b: B]",
    ]


async def test_an_idle_http_server_restarted_between_calls_is_reconnected_not_an_error(
    tmp_path: Path,
) -> None:
    """The server dies while idle (no ping has noticed yet) and comes back: the next call
    reconnects and works instead of failing on the dead connection."""
    port = free_port()
    config = http_config(port, "add")
    with http_server(port) as proc:
        async with runtime_for(write(tmp_path / "agents.yaml", config)) as runtime:
            assert '{"result": 7}' in await ask(runtime, "a", '/tool add {"a": 3, "b": 4}')
            proc.kill()
            proc.wait()
            with http_server(port) as again:
                answer = await ask(runtime, "a", '/tool add {"a": 1, "b": 2}')
                assert '{"result": 3}' in answer, answer
                again.kill()
                again.wait()
            # Down while idle: a call that meets it down is an error result the model reads
            # (the run goes on); once the server is back the next call works.
            answer = await ask(runtime, "a", '/tool add {"a": 2, "b": 2}')
            assert '{"error": ' in answer, answer
            with http_server(port):
                answer = await ask(runtime, "a", '/tool add {"a": 2, "b": 2}')
                assert '{"result": 4}' in answer, answer


async def test_server_errors_say_which_tool_the_model_called(tmp_path: Path) -> None:
    """The server names its tool by its own name ("Error executing tool fail"); with a prefix
    the model called another name: the error result says which."""
    async with runtime_for(write(tmp_path / "agents.yaml", STDIO)) as runtime:
        source = runtime.snapshot.tool_sources["demo"]
        with pytest.raises(ToolCallError) as caught:
            await source.call_tool("d_fail", {"reason": "nope"})
        text = str(caught.value)
        assert text == "Error executing tool fail (tool 'd_fail' is 'fail' on MCP server 'demo')"
        answer = await ask(runtime, "a", '/tool d_fail {"reason": "nope"}')
        assert "tool 'd_fail' is 'fail' on MCP server 'demo'" in answer
