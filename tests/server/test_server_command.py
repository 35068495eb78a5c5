"""``vel-runner serve``: flags and env, refusals, a real process, SIGTERM drain, and two
workers sharing sessions (and events) through PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from dataclasses import FrozenInstanceError
from pathlib import Path

import httpx
import pytest
from helpers.net import free_port
from helpers.server import DATABASE_CONFIG, ServerProcess, SseReader, read_events
from helpers.waiting import wait_until

from vel_runner.server import command
from vel_runner.server.settings import ServeSettings, is_loopback

CONFIG = """\
version: 1
providers:
  offline: {type: echo}
  slow: {type: echo, delay: 1.0}
agents:
  - id: echo
    model: {provider: offline, model: echo-1}
  - id: slow
    model: {provider: slow, model: echo-1}
"""


def write(tmp_path: Path, text: str = CONFIG) -> str:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    return str(path)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.configure(parser)
    return parser.parse_args(argv)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONFIG", "HOST", "PORT", "WORKERS", "API_KEY", "RELOAD", "INSECURE"):
        monkeypatch.delenv(f"VEL_{name}", raising=False)
    for name in ("DRAIN_TIMEOUT", "MAX_BODY_BYTES", "LOG_LEVEL"):
        monkeypatch.delenv(f"VEL_{name}", raising=False)


def test_defaults_and_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = ServeSettings.from_args(parse())
    assert defaults.host == "127.0.0.1" and defaults.port == 8000
    assert defaults.reload and defaults.workers == 1 and defaults.api_key is None
    assert defaults.paths[0].endswith("agents.yaml")
    monkeypatch.setenv("VEL_CONFIG", "/a.yaml:/b.yaml")
    monkeypatch.setenv("VEL_HOST", "0.0.0.0")
    monkeypatch.setenv("VEL_PORT", "9001")
    monkeypatch.setenv("VEL_WORKERS", "3")
    monkeypatch.setenv("VEL_API_KEY", "k")
    monkeypatch.setenv("VEL_RELOAD", "0")
    from_env = ServeSettings.from_args(parse())
    assert from_env.paths == ("/a.yaml", "/b.yaml") and from_env.host == "0.0.0.0"
    assert from_env.port == 9001 and from_env.workers == 3
    assert from_env.api_key == "k" and not from_env.reload
    flags = ServeSettings.from_args(parse("--port", "9002", "--workers", "1", "-c", "/c.yaml"))
    assert flags.port == 9002 and flags.workers == 1 and flags.paths == ("/c.yaml",)


@pytest.mark.parametrize(
    ("value", "on"), [("1", True), ("TRUE", True), (" yes ", True), ("off", False), ("No", False)]
)
def test_one_parser_reads_every_flag_variable(value: str, on: bool) -> None:
    settings = ServeSettings.resolve({}, {"VEL_RELOAD": value, "VEL_INSECURE": value})
    assert settings.reload is on and settings.insecure is on


def test_workers_resolve_the_settings_the_command_resolved() -> None:
    flags = vars(parse("--no-reload", "--max-body-bytes", "4096", "--api-key", "k", "-c", "/x"))
    settings = ServeSettings.resolve(flags, {})
    worker = ServeSettings.resolve({}, settings.environ())
    assert (worker.paths, worker.reload, worker.max_body_bytes, worker.api_key) == (
        ("/x",),
        False,
        4096,
        "k",
    )
    with pytest.raises(FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("VEL_PORT", "eighty", "VEL_PORT='eighty' is not an integer"),
        ("VEL_DRAIN_TIMEOUT", "soon", "VEL_DRAIN_TIMEOUT='soon' is not a number"),
        ("VEL_INSECURE", "maybe", "VEL_INSECURE='maybe' is not one of"),
        ("VEL_LOG_LEVEL", "loud", "VEL_LOG_LEVEL='loud' is not one of"),
    ],
)
def test_a_bad_environment_value_is_named(
    name: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv(name, value)
    assert command.run(parse()) == 2
    assert says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_public_host_without_key_is_refused(tmp_path: Path, capsys) -> None:
    assert command.run(parse("--host", "0.0.0.0", "-c", write(tmp_path))) == 2
    assert "without an API key" in capsys.readouterr().err
    assert ServeSettings.from_args(parse("--host", "0.0.0.0", "--insecure")).refusal() is None
    assert ServeSettings.from_args(parse("--host", "0.0.0.0", "--api-key", "k")).refusal() is None


def test_workers_with_a_memory_store_are_refused(tmp_path: Path, capsys) -> None:
    assert command.run(parse("--workers", "2", "-c", write(tmp_path))) == 2
    err = capsys.readouterr().err
    assert "memory" in err and "database" in err


def test_invalid_config_exits_1_with_its_position(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, CONFIG.replace("provider: slow", "provider: nowhere"))
    assert command.run(parse("-c", path)) == 1
    err = capsys.readouterr().err
    assert "agents.yaml:" in err and "nowhere" in err and "Traceback" not in err


@pytest.mark.slow
async def test_sigterm_drains_in_flight_turns_and_ends_event_streams(tmp_path: Path) -> None:
    server = ServerProcess("-c", write(tmp_path), "--no-reload", "--drain-timeout", "20")
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            first = await http.post("/v1/agents/echo/runs", json={"message": "hi"})
            assert first.status_code == 200

            stream = SseReader(http, "GET", "/v1/events?turns=true")  # with turn-started
            await wait_until(lambda: stream.frames, what="the event stream")
            turn = asyncio.create_task(
                http.post("/v1/agents/slow/runs", json={"message": "slow one", "session_id": "s"})
            )
            in_flight = lambda: any("turn-started" in frame for frame in stream.frames)  # noqa: E731
            await wait_until(in_flight, what="the slow turn (1 s) to be in flight")
            server.signal(signal.SIGTERM)
            response = await asyncio.wait_for(turn, 10)
            assert response.status_code == 200
            assert response.json()["output"] == "echo (1 messages): slow one"
            await asyncio.wait_for(stream.task, 10)  # the server ended it
            assert stream.frames[0].startswith(": connected")
        loop = asyncio.get_running_loop()
        started = loop.time()
        code = await asyncio.to_thread(server.wait, 15)
        assert loop.time() - started < 10  # did not sit out the 20 s drain timeout
        assert code in (0, -signal.SIGTERM), server.output()
        assert "Traceback" not in server.output()
    finally:
        server.stop()


@pytest.mark.slow
async def test_two_workers_share_sessions_and_events_on_the_database(
    tmp_path: Path, fresh_postgres_dsn: str
) -> None:
    path = write(tmp_path, DATABASE_CONFIG)
    server = ServerProcess(
        "-c", path, "--workers", "2", "--no-access-log", env={"POSTGRES_DSN": fresh_postgres_dsn}
    )
    try:
        await server.ready(timeout=40)
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection per request
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=20) as http:
            loaded = set()  # each worker loaded its own runtime: two load times

            async def both_answered() -> bool:
                loaded.add((await http.get("/v1/config")).json()["loaded_at"])
                return len(loaded) == 2

            # the second worker may start later
            await wait_until(both_answered, 20, interval=0.02, what="both workers to answer")
            frames: list[dict] = []

            turns = 8
            connected = asyncio.Event()
            listener = asyncio.create_task(
                read_events(http, frames, lambda f: len(f) >= turns, connected=connected)
            )
            await asyncio.wait_for(connected.wait(), 10)  # both workers LISTEN since they start
            for n in range(turns):
                body = {"message": f"turn {n}", "session_id": "shared"}
                reply = await http.post("/v1/agents/echo/runs", json=body)
                assert reply.status_code == 200, reply.text
                assert reply.json()["output"] == f"echo ({2 * n + 1} messages): turn {n}"
            stored = (await http.get("/v1/agents/echo/sessions/shared")).json()
            assert stored["message_count"] == 2 * turns and stored["store"] == "pg"
            await asyncio.wait_for(listener, 15)
        kinds = [f["event"] for f in frames]
        assert kinds == ["created"] + ["updated"] * (turns - 1)
        assert json.loads(frames[-1]["data"])["message_count"] == 2 * turns
        assert fresh_postgres_dsn.split("@")[0] not in server.output()
    finally:
        server.stop()


def test_unreachable_database_at_startup_is_a_clear_error(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = f"postgresql://vel:hunter2-secret@127.0.0.1:{free_port()}/vel?connect_timeout=2"
    monkeypatch.setenv("POSTGRES_DSN", dsn)
    assert command.run(parse("-c", write(tmp_path, DATABASE_CONFIG), "--no-reload")) == 2
    err = capsys.readouterr().err
    assert "hunter2-secret" not in err and "Traceback" not in err
    assert err.splitlines()[-1].startswith("vel-runner serve: session database unavailable")
