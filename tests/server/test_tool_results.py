"""What the model (and the stream, the session and the logs) get of a tool call, from every
source (python, agent, MCP): errors with their secrets hidden, results cut to a configurable
cap that says so, and strict JSON (NaN and infinities as null) in every frame and on PG."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.server import echo_agent, served_agents, sse_json
from test_server_tools import validate_with_ai_sdk

from vel_runner import Agent
from vel_runner.config.validate import check_config
from vel_runner.observe.logs import JsonFormatter
from vel_runner.providers.base import Chunk, Completion
from vel_runner.runtime import Runtime
from vel_runner.storage.postgres import PostgresStore
from vel_runner.tools import AgentTool, FunctionTool

ECHO = {"provider": "echo", "model": "echo-1"}
PASSWORD = "Pa55-w0rd-never-shown"
API_KEY = "sk-proj-tool-error-key-0123456789"


def leak() -> str:
    """The kind of message a database or API client puts in its exception."""
    return f"cannot reach postgresql://admin:{PASSWORD}@db/app (key {API_KEY})"


def sync_failure() -> str:
    """Fails, quoting a DSN and a key."""
    raise RuntimeError(leak())


async def async_failure() -> str:
    """Fails, quoting a DSN and a key."""
    raise RuntimeError(leak())


class LeakyProvider:
    """A model whose client fails with an error that quotes the credentials."""

    type = "leaky"

    async def complete(
        self, messages: Sequence[Any], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        raise RuntimeError(leak())

    async def stream(
        self, messages: Sequence[Any], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        raise RuntimeError(leak())
        yield Chunk("")  # pragma: no cover

    async def aclose(self) -> None:
        return None


def secret_free(text: str) -> bool:
    return PASSWORD not in text and API_KEY not in text and API_KEY[3:] not in text


@pytest.fixture
async def leaky_server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    inner = Agent("inner", model=ECHO, provider=LeakyProvider())
    agent = echo_agent("echo", tools=[sync_failure, async_failure, AgentTool(inner, name="ask")])
    async with served_agents(agent) as url:
        yield url


async def test_tool_errors_never_show_secrets_on_any_surface(
    leaky_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    calls = '/tool sync_failure {}\n/tool async_failure {}\n/tool ask {"input": "hi"}'
    async with httpx.AsyncClient(base_url=leaky_server, timeout=30) as http:
        body = {"message": calls, "session_id": "json"}
        output = (await http.post("/v1/agents/echo/runs", json=body)).json()["output"]
        body = {"message": calls, "session_id": "sse", "stream": True}
        frames = (await http.post("/v1/agents/echo/runs", json=body)).text
        stored = [
            (await http.get(f"/v1/agents/echo/sessions/{sid}")).text for sid in ("json", "sse")
        ]
    errors = [f["errorText"] for f in sse_json(frames) if f["type"] == "tool-output-error"]
    assert len(errors) == 3 and all(
        "cannot reach postgresql://admin:***@db/app" in e for e in errors
    )
    assert all("(key sk-***)" in e for e in errors), errors
    assert output.count("cannot reach postgresql://admin:***@db/app (key sk-***)") == 3
    json_lines = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert "sync_failure failed" in caplog.text  # the log has the error, not the secrets
    for surface in (output, frames, *stored, caplog.text, json_lines):
        assert secret_free(surface), surface


async def test_a_configured_secret_is_hidden_even_in_a_shape_no_pattern_knows() -> None:
    from vel_runner.redact import remember_secrets

    token = "gateway-token-4242-abcd"  # no sk- prefix, no user:password@
    remember_secrets([token])

    def call_gateway() -> str:
        """Fails, quoting the token."""
        raise PermissionError(f"gateway refused token {token}")

    agent = Agent("a", model=ECHO, tools=[call_gateway])
    answer = await agent.run("/tool call_gateway {}")
    assert "gateway refused token ***" in answer and token not in answer


LEAKY_MCP_SERVER = f"""
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("leaky")


@server.tool()
def fetch() -> str:
    \"\"\"Fails the way a client library does, quoting its DSN and key.\"\"\"
    raise ToolError({leak()!r})


@server.tool()
def blob(size: int) -> str:
    \"\"\"A long text.\"\"\"
    return "y" * size


server.run("stdio")
"""


async def test_mcp_tool_errors_are_redacted_and_results_capped(tmp_path: Path) -> None:
    script = tmp_path / "leaky_server.py"
    script.write_text(LEAKY_MCP_SERVER)
    path = tmp_path / "agents.yaml"
    path.write_text(
        "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n  leaky:\n    type: mcp\n"
        f"    command: {sys.executable}\n    args: [{script}]\n"
        "    max_result_chars: 200\n    connect_timeout: 30s\n"
        "agents:\n  - id: a\n    model: {provider: offline, model: e}\n    tools: [leaky]\n"
    )
    async with await Runtime.from_paths([path], watch=False, close_grace=0) as runtime:
        agent = runtime.agent("a")
        failed = await agent.run("/tool fetch {}")
        long = await agent.run('/tool blob {"size": 5000}')
    assert "cannot reach postgresql://admin:***@db/app (key sk-***)" in failed
    assert secret_free(failed)
    shown = '{"result": "' + "y" * 188  # the server's structured content, cut at 200
    assert f"blob -> {shown}\n[cut by vel-runner: the result has 5,014 characters; only " in long
    assert "y" * 189 not in long


# -- the cap ----------------------------------------------------------------------------------
def big(size: int) -> str:
    """A result of ``size`` characters."""
    return "x" * size


async def test_results_are_cut_to_the_cap_and_say_their_size() -> None:
    agent = Agent("a", model=ECHO, max_result_chars=1000, tools=[big])
    events = [e async for e in agent.run_stream('/tool big {"size": 250000}', session_id="s")]
    stored = await agent.ctxmgr.aget_session_context("s")
    content = stored[2]["content"]
    assert content == "x" * 1000 + (
        "\n[cut by vel-runner: the result has 250,000 characters; only the first 1,000 are shown]"
    )
    output = next(e["output"] for e in events if e["type"] == "tool-output-available")
    assert output == content  # the stream carries what the model reads, not 250,000 characters
    assert stored[-1]["content"] == f"echo (3 messages): big -> {content}"
    small = await agent.run('/tool big {"size": 1000}')
    assert small.endswith("big -> " + "x" * 1000)  # exactly the cap: untouched


async def test_the_default_cap_and_a_tools_own_cap_win_over_the_agents() -> None:
    default = Agent("d", model=ECHO, tools=[big])
    long = await default.run('/tool big {"size": 100001}')
    assert "the result has 100,001 characters; only the first 100,000" in long
    assert "x" * 100_001 not in long
    own = FunctionTool(big, max_result_chars=10)
    agent = Agent("a", model=ECHO, max_result_chars=1000, tools=[own])
    assert "big -> xxxxxxxxxx\n[cut by vel-runner" in await agent.run('/tool big {"size": 50}')


async def test_error_texts_and_agent_tool_answers_are_capped() -> None:
    def shout(size: int) -> str:
        """Fails with a long message."""
        raise ValueError("e" * size)

    helper = Agent("helper", model=ECHO)
    agent = Agent(
        "a", model=ECHO, max_result_chars=30, tools=[shout, AgentTool(helper, name="ask")]
    )
    failed = await agent.run('/tool shout {"size": 5000}')
    assert "ValueError: " + "e" * 18 + "\\n[cut by vel-runner: the result has 5,012" in failed
    answer = await agent.run(f"/tool ask {json.dumps({'input': 'z' * 500})}")
    assert "ask -> echo (1 messages): zzzzzzzzzz" in answer and "z" * 40 not in answer


@pytest.mark.parametrize("bad", [0, -1, True, "100"])
def test_a_bad_cap_is_refused_with_its_name(bad: Any) -> None:
    from vel_runner.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="max_result_chars must be a positive integer"):
        Agent("a", model=ECHO, max_result_chars=bad)


def test_the_cap_in_agents_yaml(tmp_path: Path) -> None:
    (tmp_path / "big_tools.py").write_text(
        "def big(size: int) -> str:\n    '''Big.'''\n    return 'x' * size\n"
    )
    text = (
        "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n"
        "  big: {type: python, function: 'big_tools:big', max_result_chars: 5}\n"
        "  bigger: {type: python, function: 'big_tools:big'}\n"
        "agents:\n  - id: a\n    model: {provider: offline, model: e}\n"
        "    tools: [big, bigger]\n    max_result_chars: 7\n"
    )
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    config, issues = check_config([path])
    assert config is not None, issues
    assert config.agents["a"]["max_result_chars"] == 7
    assert config.function_tools["big"].max_result_chars == 5
    path.write_text(text.replace("max_result_chars: 7", "max_result_chars: 0"))
    config, issues = check_config([path])
    assert config is None and any(i.path.endswith("max_result_chars") for i in issues)


async def test_the_cap_from_agents_yaml_applies(tmp_path: Path) -> None:
    (tmp_path / "cap_tools.py").write_text(
        "def big(size: int) -> str:\n    '''Big.'''\n    return 'x' * size\n"
    )
    path = tmp_path / "agents.yaml"
    path.write_text(
        "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n"
        "  big: {type: python, function: 'cap_tools:big', max_result_chars: 5}\n"
        "  bigger: {type: python, function: 'cap_tools:big'}\n"
        "agents:\n  - id: a\n    model: {provider: offline, model: e}\n"
        "    tools: [big, bigger]\n    max_result_chars: 7\n"
    )
    async with await Runtime.from_paths([path], watch=False) as runtime:
        agent = runtime.agent("a")
        answer = await agent.run('/tool big {"size": 9}\n/tool bigger {"size": 9}')
    assert "big -> xxxxx\n[cut by vel-runner: the result has 9 characters" in answer
    assert "bigger -> xxxxxxx\n[cut by vel-runner" in answer


# -- NaN and infinities ---------------------------------------------------------------------
def _refuse(constant: str) -> None:
    raise ValueError(f"not JSON: {constant}")


def strict(text: str) -> Any:
    """Parse as JSON.parse does: NaN, Infinity and -Infinity are errors."""
    return json.loads(text, parse_constant=_refuse)


#: What the model reads (and the session stores) of :func:`not_finite`'s value.
STORED = '{"nan": null, "inf": [null, null], "ok": 1.5}'


def not_finite() -> dict[str, Any]:
    """Numbers JSON does not have."""
    return {"nan": float("nan"), "inf": [float("inf"), float("-inf")], "ok": 1.5}


async def test_nan_and_infinity_leave_every_frame_as_null() -> None:
    async with (
        served_agents(echo_agent("echo", tools=[not_finite])) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        body = {"message": '/tool not_finite {"x": NaN}\n/tool not_finite {}', "stream": True}
        response = await http.post("/v1/agents/echo/runs", json={**body, "session_id": "s"})
        stored = (await http.get("/v1/agents/echo/sessions/s")).text
        completions = await http.post(
            "/v1/chat/completions",
            json={"model": "echo", "stream": True,
                  "messages": [{"role": "user", "content": "/tool not_finite {}"}]},
        )  # fmt: skip
    frames = [
        strict(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: {")
    ]
    inputs = [f["input"] for f in frames if f["type"] == "tool-input-available"]
    assert inputs == [{"x": None}, {}]  # the model's NaN argument, as the wire carries it
    output = next(f["output"] for f in frames if f["type"] == "tool-output-available")
    assert output == {"nan": None, "inf": [None, None], "ok": 1.5}
    assert (
        strict(stored)["messages"][3]["content"] == '{"nan": null, "inf": [null, null], "ok": 1.5}'
    )
    for line in completions.text.splitlines():
        if line.startswith("data: {"):
            strict(line.removeprefix("data: "))
    report = validate_with_ai_sdk(frames)  # and the AI SDK's own schema reads the stream
    assert all(not entry["errors"] for entry in report.values())


async def test_nan_results_store_in_postgres(fresh_postgres_dsn: str) -> None:
    store = PostgresStore(fresh_postgres_dsn)
    agent = Agent("a", model=ECHO, session_storage=store, tools=[not_finite])
    try:
        answer = await agent.run("/tool not_finite {}", session_id="s")
        assert (
            answer
            == 'echo (3 messages): not_finite -> {"nan": null, "inf": [null, null], "ok": 1.5}'
        )
        stored = await agent.ctxmgr.aget_session_context("s")
        assert strict(stored[2]["content"]) == {"nan": None, "inf": [None, None], "ok": 1.5}
    finally:
        await agent.aclose()
        await store.close()


def test_strict_json_text_helpers() -> None:
    from vel_runner.server.json_text import FiniteJSONResponse, dumps

    value = {"a": [float("nan"), {"b": float("inf")}], "c": (1, float("-inf")), "d": "NaN"}
    assert dumps(value) == '{"a": [null, {"b": null}], "c": [1, null], "d": "NaN"}'
    assert FiniteJSONResponse(value).body == b'{"a":[null,{"b":null}],"c":[1,null],"d":"NaN"}'
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular"):
        dumps(circular)
