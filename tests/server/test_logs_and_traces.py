"""Request ids, JSON log lines (a real ``vel-runner serve``), and GenAI traces from the SDK's
in-memory exporter: span names, parents, attributes, the incoming traceparent."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.net import free_port
from helpers.paths import TESTS
from helpers.server import ServerProcess, echo_agent, served_agents
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vel_runner import Agent
from vel_runner.observe import traces

CONFIG = """\
version: 1
providers:
  offline: {type: echo}
agents:
  - {id: echo, model: {provider: offline, model: echo-1}}
"""


async def test_request_ids_are_returned_and_in_error_bodies() -> None:
    async with served_agents(echo_agent()) as url, httpx.AsyncClient(base_url=url) as http:
        ok = await http.get("/v1/agents", headers={"x-request-id": "req-42"})
        assert ok.headers["x-request-id"] == "req-42"
        new = await http.get("/v1/agents")
        assert re.fullmatch(r"[0-9a-f]{32}", new.headers["x-request-id"])
        refused = await http.get("/v1/agents", headers={"x-request-id": "two words\tand a tab"})
        assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["x-request-id"])
        missing = await http.get("/v1/agents/nope/sessions/s", headers={"x-request-id": "r-1"})
        assert missing.status_code == 404
        assert missing.json()["error"]["request_id"] == "r-1" == missing.headers["x-request-id"]
        bad = await http.post("/v1/agents/echo/runs", json={"message": ""})
        assert bad.status_code == 422
        assert bad.json()["error"]["request_id"] == bad.headers["x-request-id"]


async def test_json_logs_parse_carry_the_request_id_and_no_secret(tmp_path: Path) -> None:
    config = tmp_path / "agents.yaml"
    config.write_text(CONFIG)
    key = "vel-key-do-not-log-1234"
    server = ServerProcess(
        "-c", str(config), "--log-format", "json", "--no-reload", env={"VEL_API_KEY": key}
    )
    try:
        await server.ready()
        auth = {"authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=auth) as http:
            body = {"message": "hello", "session_id": "s-log"}
            headers = {"x-request-id": "turn-req-1"}
            reply = await http.post("/v1/agents/echo/runs", json=body, headers=headers)
            assert reply.status_code == 200 and reply.headers["x-request-id"] == "turn-req-1"
            streamed = {**body, "stream": True}
            headers = {"x-request-id": "turn-req-2"}
            assert (
                await http.post("/v1/agents/echo/runs", json=streamed, headers=headers)
            ).is_success
            wrong = await http.get("/v1/agents", headers={"authorization": "Bearer wrong-guess"})
            assert wrong.status_code == 401
    finally:
        server.stop()
    output = server.output()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines and all({"time", "level", "message"} <= set(line) for line in lines)
    turns = [line for line in lines if line.get("logger") == "vel_runner.turns"]
    by_request = {line["request_id"]: line for line in turns}
    first = by_request["turn-req-1"]
    assert first["agent"] == "echo" and first["session"] == "s-log" and first["outcome"] == "ok"
    assert re.fullmatch(r"[0-9a-f]{32}", first["run_id"]) and first["duration"] >= 0
    assert first["run_id"] == reply.json()["run_id"]
    assert by_request["turn-req-2"]["session"] == "s-log"  # the streamed turn
    access = [line for line in lines if line.get("logger") == "uvicorn.access"]
    assert {"turn-req-1", "turn-req-2"} <= {line.get("request_id") for line in access}
    assert key not in output and "wrong-guess" not in output


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    yield from _tracing()


@pytest.fixture
def captured_spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    monkeypatch.setenv(traces.CAPTURE_ENV, "true")
    yield from _tracing()


def _tracing() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    remove = traces.install(provider)
    try:
        yield exporter
    finally:
        remove()
    assert not traces.active()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


async def test_a_turn_is_an_invoke_agent_trace(spans: InMemorySpanExporter) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = f"00-{trace_id}-00f067aa0ba902b7-01"
    async with served_agents(echo_agent("t-echo")) as url, httpx.AsyncClient(base_url=url) as http:
        body = {"message": "hi", "session_id": "s-trace"}
        reply = await http.post(
            "/v1/agents/t-echo/runs", json=body, headers={"traceparent": parent}
        )
        assert reply.status_code == 200
    found = by_name(spans)
    [turn] = found["invoke_agent t-echo"]
    [chat] = found["chat echo-1"]
    [read] = found["session.read memory"]
    [write] = found["session.write memory"]
    assert format(turn.context.trace_id, "032x") == trace_id
    assert turn.parent is not None and format(turn.parent.span_id, "016x") == "00f067aa0ba902b7"
    for child in (chat, read, write):
        assert child.parent.span_id == turn.context.span_id
        assert child.context.trace_id == turn.context.trace_id
    assert dict(turn.attributes) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "t-echo",
        "gen_ai.conversation.id": "s-trace",
        "vel.run_id": reply.json()["run_id"],
        "gen_ai.usage.input_tokens": 1,
        "gen_ai.usage.output_tokens": 4,
    }
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.request.model"] == "echo-1"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 1
    assert chat.attributes["gen_ai.usage.output_tokens"] == 4
    assert tuple(chat.attributes["gen_ai.response.finish_reasons"]) == ("stop",)
    assert "gen_ai.input.messages" not in chat.attributes  # no content without the env var
    assert read.attributes["db.operation.name"] == "read"
    slack = 1_000_000  # ns: store spans are placed from perf_counter timings
    assert read.end_time <= chat.start_time + slack and chat.end_time <= write.start_time + slack


async def test_streamed_and_failed_turns_and_captured_content(
    captured_spans: InMemorySpanExporter, fake_openai: Any
) -> None:
    exporter = captured_spans
    bad = Agent(
        "t-bad",
        model={"provider": "openai", "model": "status-400", "base_url": fake_openai.base_url,
               "api_key": "sk-trace", "max_retries": 0},
    )  # fmt: skip
    async with (
        served_agents(echo_agent("t-stream"), bad) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        body = {"message": "say it", "session_id": "s1", "stream": True}
        assert (await http.post("/v1/agents/t-stream/runs", json=body)).is_success
        failed = await http.post("/v1/agents/t-bad/runs", json={"message": "x"})
        assert failed.status_code == 502
    found = by_name(exporter)
    [stream_turn] = found["invoke_agent t-stream"]
    [stream_chat] = found["chat echo-1"]
    assert stream_chat.parent.span_id == stream_turn.context.span_id
    assert stream_turn.parent is None  # no traceparent: a new trace
    assert json.loads(stream_chat.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "say it"}]}
    ]
    output = json.loads(stream_chat.attributes["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == "echo (1 messages): say it"
    [bad_turn] = found["invoke_agent t-bad"]
    [bad_chat] = found["chat status-400"]
    assert bad_chat.parent.span_id == bad_turn.context.span_id
    assert "gen_ai.conversation.id" not in bad_turn.attributes  # a turn without a session
    for span in (bad_turn, bad_chat):
        assert span.status.status_code.name == "ERROR"
        assert span.attributes["error.type"] == "ProviderError"
    assert tuple(bad_chat.attributes["gen_ai.response.finish_reasons"]) == ("error",)


def test_without_tracing_nothing_of_opentelemetry_is_imported() -> None:
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "def otel(): return {m for m in sys.modules if m.startswith('opentelemetry')}\n"
        "from vel_runner import Agent\n"
        "a = Agent('a', model={'provider': 'echo', 'model': 'e'})\n"
        "asyncio.run(a.run('hi', session_id='s'))\n"
        "print(sorted(otel()))\n"
        "import fastapi\n"  # FastAPI's own telemetry imports the API when it is installed
        "before = otel()\n"
        "from vel_runner.server.app import create_app\n"
        "from vel_runner.runtime import Runtime\n"
        "create_app(Runtime.from_agents([a]), metrics=True)\n"
        "asyncio.run(a.run('again', session_id='s'))\n"
        "print(sorted(otel() - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "[]"]


MCP_DEMO = TESTS / "mcp_servers" / "demo_server.py"


@pytest.mark.slow
async def test_other_libraries_log_json_lines_too(tmp_path: Path) -> None:
    """The MCP SDK (a server that writes a line that is not JSON-RPC) and OpenTelemetry (an
    OTLP endpoint nobody listens on) log through the same JSON formatter."""
    config = tmp_path / "agents.yaml"
    config.write_text(
        CONFIG.replace("echo-1}}", "echo-1}, tools: [demo]}")
        + "tools:\n  demo:\n    type: mcp\n    command: /bin/sh\n"
        + f'    args: ["-c", "echo not-json-rpc; exec {sys.executable} {MCP_DEMO} stdio"]\n'
        + "    allow: [add]\n    connect_timeout: 30s\n"
    )
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    }
    server = ServerProcess("-c", str(config), "--log-format", "json", "--no-reload", env=env)
    try:
        await server.ready(timeout=40)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            reply = await http.post("/v1/agents/echo/runs", json={"message": "hi"})
            assert reply.status_code == 200
    finally:
        server.stop()  # the last spans are flushed (and fail) at shutdown
    lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]
    loggers = {line["logger"] for line in lines}
    assert any(name.startswith("mcp.") for name in loggers), loggers
    assert any(name.startswith("opentelemetry.") for name in loggers), loggers
    [parse] = [line for line in lines if "Failed to parse JSONRPC" in line["message"]]
    assert parse["level"] == "error" and "not-json-rpc" in parse["exception"]


class OtlpReceiver:
    """An OTLP/HTTP endpoint that only counts what reaches it."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.paths: list[str] = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                paths.append(self.path)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize(("exporter", "to_otlp"), [("console", False), ("otlp", True)])
async def test_otel_traces_exporter_is_honoured(
    tmp_path: Path, exporter: str, to_otlp: bool
) -> None:
    config = tmp_path / "agents.yaml"
    config.write_text(CONFIG)
    receiver = OtlpReceiver()
    env = {"OTEL_TRACES_EXPORTER": exporter, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    server = ServerProcess("-c", str(config), "--no-reload", "--no-access-log", env=env)
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            assert (await http.post("/v1/agents/echo/runs", json={"message": "hi"})).is_success
    finally:
        server.stop()  # flushes the spans
        receiver.close()
    printed = '"name": "invoke_agent echo"' in server.output()
    assert (receiver.paths == ["/v1/traces"], printed) == (to_otlp, not to_otlp), server.output()


def test_the_standard_exporter_variables(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from vel_runner.observe.trace_exporters import exporter_names, exporters

    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert not traces.enabled()  # nothing configured: no export to a default localhost
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert traces.enabled() and exporter_names() == ["otlp"]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not traces.enabled() and exporter_names() == []
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", " Console , otlp,nope")
    assert exporter_names() == ["console", "otlp", "nope"]
    made = exporters({"OTEL_TRACES_EXPORTER": "console,nope"})
    assert [type(e).__name__ for e in made] == ["ConsoleSpanExporter"]
    assert "names 'nope' but no such span exporter is installed" in caplog.text
    assert "console" in caplog.text  # the installed ones are named
    grpc = exporters({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})  # not installed here
    assert grpc == [] and "otlp (otlp_proto_grpc)" in caplog.text
    [http_exporter] = exporters({"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"})
    assert type(http_exporter).__name__ == "OTLPSpanExporter"
    assert "'http/json' is not supported" in caplog.text
