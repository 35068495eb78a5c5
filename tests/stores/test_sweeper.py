"""The scheduled sweep: ``serve`` deletes expired sessions on each store's ``sweep`` schedule
(events included, so dashboards update), one process at a time on a shared database, and
listings never show an expired session in the meantime."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from helpers.clock import past
from helpers.server import ServerProcess, echo_agent, read_events, served_agents

from vel_runner.config.schema import load_schema
from vel_runner.runtime import Runtime
from vel_runner.storage import create_store
from vel_runner.storage.pg_sql import SWEEP_LOCK
from vel_runner.sweeper import DEFAULT_SWEEP, Sweeper, sweep_interval

SERVE_CONFIG = """\
version: 1
providers:
  offline: {{type: echo}}
stores:
  s: {store}
agents:
  - id: echo
    model: {{provider: offline, model: echo-1}}
    store: s
    ttl: 1s
"""

STORES = {
    "memory": "{type: memory, sweep: 1s}",
    "database": '{type: database, dsn: "${POSTGRES_DSN}", sweep: 1s}',
}


def msg(role: str, text: str) -> dict[str, str]:
    return {"role": role, "content": text}


def test_sweep_intervals_and_the_schema_default() -> None:
    assert sweep_interval({"sweep": "5m"}) == 300
    assert sweep_interval({"sweep": 2}) == 2
    assert sweep_interval({"sweep": "off"}) is None
    assert sweep_interval({"sweep": 0}) == 1.0  # never a busy loop
    assert sweep_interval(None) == sweep_interval({}) == 300  # a store built in code
    defs = load_schema()["$defs"]
    for store in ("memoryStore", "databaseStore"):
        assert defs[store]["properties"]["sweep"]["default"] == DEFAULT_SWEEP
    assert defs["memoryStore"]["properties"]["max_sessions"]["default"] == 100_000


async def test_the_sweeper_follows_each_store_schedule(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text(
        "version: 1\n"
        "providers: {offline: {type: echo}}\n"
        "stores:\n"
        "  fast: {type: memory, sweep: 1s, max_sessions: 5}\n"
        "  never: {type: memory, sweep: 'off'}\n"
        "agents:\n"
        "  - {id: a, model: {provider: offline, model: e}, store: fast}\n"
        "  - {id: b, model: {provider: offline, model: e}, store: never}\n"
    )
    runtime = await Runtime.from_paths([tmp_path / "agents.yaml"], watch=False)
    async with runtime:
        fast, never = runtime.snapshot.stores["fast"], runtime.snapshot.stores["never"]
        assert getattr(fast, "max_sessions", None) == 5  # the declaration reaches the store
        for store in (fast, never):
            await store.set("a", "old", [msg("user", "x")], ttl=0.05)
            await store.set("a", "kept", [msg("user", "y")], ttl=60)
        await past((await never.get("a", "old")).expires_at)  # type: ignore[union-attr]
        sweeper = Sweeper(runtime)
        assert await sweeper.sweep_due() == 1  # "fast" at once, "never" not at all
        now = asyncio.get_running_loop().time()
        assert sweeper.due(now) == []  # not again before its interval
        assert [name for name, _ in sweeper.due(now + 1.0)] == ["fast"]
        assert [i.session_id for i in await fast.list()] == ["kept"]
        assert len(never) == 2  # type: ignore[arg-type]


async def test_a_store_that_fails_to_sweep_is_logged_without_its_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "agents.yaml").write_text(
        "version: 1\n"
        "providers: {offline: {type: echo}}\n"
        "stores:\n"
        "  pg: {type: database, dsn: 'postgresql://u:hunter2secret@127.0.0.1:1/db', timeout: 0.5}\n"
        "agents:\n"
        "  - {id: a, model: {provider: offline, model: e}, store: pg}\n"
    )
    runtime = await Runtime.from_paths([tmp_path / "agents.yaml"], watch=False)
    try:
        with caplog.at_level(logging.WARNING, "vel_runner.sweeper"):
            assert await Sweeper(runtime).sweep_due() == 0  # no exception
        assert "sweeping store 'pg' failed" in caplog.text
        assert "hunter2secret" not in caplog.text
    finally:
        await runtime.close()


async def test_one_process_sweeps_the_database_at_a_time(fresh_postgres_dsn: str) -> None:
    store = create_store("database", dsn=fresh_postgres_dsn, timeout=2.0)
    try:
        await store.set("a", "s", [msg("user", "x")], ttl=0.05)
        await past((await store.get("a", "s")).expires_at)  # type: ignore[union-attr]
        with psycopg.connect(fresh_postgres_dsn) as other:  # another process, sweeping
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", SWEEP_LOCK)
            assert await store.sweep() == 0
        assert await store.sweep() == 1
    finally:
        await store.close()


@pytest.mark.parametrize("kind", ["memory", "database"])
async def test_serve_sweeps_expired_sessions_and_says_so_on_the_event_stream(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    env = {}
    if kind == "database":
        env["POSTGRES_DSN"] = dsn = request.getfixturevalue("fresh_postgres_dsn")
    path = tmp_path / "agents.yaml"
    path.write_text(SERVE_CONFIG.format(store=STORES[kind]))
    server = ServerProcess("-c", str(path), "--no-reload", "--no-access-log", env=env)
    try:
        await server.ready(timeout=30)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            frames: list[dict] = []

            def expired(found: list[dict]) -> bool:
                return any(f["event"] == "expired" for f in found)

            connected = asyncio.Event()
            listener = asyncio.create_task(read_events(http, frames, expired, connected=connected))
            await asyncio.wait_for(connected.wait(), 10)
            body = {"message": "hi", "session_id": "s"}
            assert (await http.post("/v1/agents/echo/runs", json=body)).status_code == 200
            await asyncio.wait_for(listener, 10)  # nobody touched the session: the sweep did
            assert [f["event"] for f in frames] == ["created", "expired"]
            assert json.loads(frames[-1]["data"])["session_id"] == "s"
            assert (await http.get("/v1/sessions")).json()["total"] == 0
        if kind == "database":
            with psycopg.connect(dsn) as conn:
                assert conn.execute("SELECT count(*) FROM vel_sessions").fetchone() == (0,)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["memory", "database"])
async def test_v1_sessions_never_lists_an_expired_session(
    request: pytest.FixtureRequest, kind: str
) -> None:
    if kind == "memory":
        store = create_store("memory")
    else:
        store = create_store("database", dsn=request.getfixturevalue("fresh_postgres_dsn"))
    agent = echo_agent(session_storage=store, ttl=0.3)
    async with served_agents(agent) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        for sid in ("short", "long"):
            assert (
                await http.post("/v1/agents/echo/runs", json={"message": "hi", "session_id": sid})
            ).status_code == 200
        await store.set("echo", "long", [msg("user", "x")], ttl=60)
        listed = (await http.get("/v1/sessions")).json()
        assert sorted(s["session_id"] for s in listed["sessions"]) == ["long", "short"]
        short = next(s for s in listed["sessions"] if s["session_id"] == "short")
        await past(datetime.fromisoformat(short["expires_at"]))  # no sweep runs here
        listed = (await http.get("/v1/sessions")).json()
        assert [s["session_id"] for s in listed["sessions"]] == ["long"]
        assert listed["total"] == 1
        assert (await http.get("/v1/agents/echo/sessions/short")).status_code == 404
