"""Runtime: snapshots, lookups, events, and reload semantics driven by ``reload()`` (the
watcher-driven path is in test_reload.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.waiting import loop_passes, wait_until

from vel_runner import Agent, ContextManager, StatelessContextManager
from vel_runner.config.errors import ConfigError
from vel_runner.errors import UnknownAgentError
from vel_runner.runtime import ConfigEvent, Runtime, RuntimeEvent
from vel_runner.storage import SessionEvent

CONFIG = """\
version: 1
providers:
  offline: {type: echo}
  slow: {type: echo, delay: 0.05}
stores:
  memory: {type: memory, ttl: 1h}
agents:
  - id: chat
    model: {provider: offline, model: echo-1}
    context: {mode: window, max_history: 4}
  - id: slowpoke
    model: {provider: slow, model: echo-1}
  - id: temp
    model: {provider: offline, model: echo-1}
    context: {mode: stateless}
    ttl: 5m
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
async def runtime(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "agents.yaml", CONFIG)
    runtime = await Runtime.from_paths([path], watch=False, close_grace=0)
    await runtime.start()
    yield runtime
    await runtime.close()


async def test_from_agents_serves_library_agents() -> None:
    a = Agent("a", model={"provider": "echo", "model": "m"})
    b = Agent(
        "b", model={"provider": "echo", "model": "m"}, context_manager=StatelessContextManager()
    )
    runtime = Runtime.from_agents([a, b])
    async with runtime:
        assert runtime.agent("a") is a and set(runtime.snapshot.agents) == {"a", "b"}
        assert len(runtime.snapshot.stores) == 2  # each agent owns its own memory store
        assert await runtime.reload() is True  # no files: nothing to do
        assert await runtime.agent("a").run("hi", session_id="s") == "echo (1 messages): hi"
        with pytest.raises(UnknownAgentError, match="no agent 'zzz'"):
            runtime.agent("zzz")
    assert runtime.snapshot.version == Runtime.from_agents([a, b]).snapshot.version


async def test_from_paths_builds_what_the_file_declares(runtime: Runtime, tmp_path: Path) -> None:
    snapshot = runtime.snapshot
    assert list(snapshot.agents) == ["chat", "slowpoke", "temp"]
    assert snapshot.files == [str(tmp_path / "agents.yaml")]
    chat, temp = snapshot.agents["chat"], snapshot.agents["temp"]
    assert isinstance(chat.ctxmgr, ContextManager) and chat.ctxmgr.max_history == 4
    assert chat.ttl == 3600.0  # the store's default TTL
    assert isinstance(temp.ctxmgr, StatelessContextManager) and temp.ttl == 300.0
    assert chat.store is temp.store is snapshot.stores["memory"]  # shared instance
    assert chat.provider is snapshot.providers["offline"]
    assert len(snapshot.version) == 12
    with pytest.raises(TypeError):
        snapshot.agents["x"] = chat  # type: ignore[index]


async def test_an_invalid_initial_config_raises_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "agents.yaml", CONFIG.replace("mode: window", "mode: windw"))
    with pytest.raises(ConfigError) as caught:
        await Runtime.from_paths([path], watch=False)
    assert caught.value.errors[0].line == 10


async def test_reload_keeps_sessions_and_unchanged_stores(runtime: Runtime, tmp_path: Path) -> None:
    old = runtime.snapshot
    await runtime.agent("chat").run("one", session_id="s")
    _write(tmp_path / "agents.yaml", CONFIG.replace("max_history: 4", "max_history: 2"))
    assert await runtime.reload() is True
    new = runtime.snapshot
    assert new.version != old.version
    assert new.stores["memory"] is old.stores["memory"]
    assert new.providers["offline"] is old.providers["offline"]
    assert new.agents["chat"] is not old.agents["chat"]
    assert new.agents["chat"].ctxmgr.max_history == 2  # applies from the next turn
    assert await new.agents["chat"].ctxmgr.aget_session_context("s") != []
    reply = await runtime.agent("chat").run("two", session_id="s")
    assert reply == "echo (2 messages): two"  # window of 2: previous reply + this message


async def test_reload_of_the_same_config_changes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    old = runtime.snapshot
    _write(tmp_path / "agents.yaml", "# just a comment\n" + CONFIG)
    assert await runtime.reload() is True
    assert runtime.snapshot is old


def spy_on_close(provider: Any) -> list[str]:
    """Record (in the returned list) when ``provider`` is closed; it still really closes."""
    closed: list[str] = []
    real_close = provider.aclose

    async def spy_close() -> None:
        closed.append(provider.type)
        await real_close()

    provider.aclose = spy_close
    return closed


async def test_a_changed_declaration_gets_a_new_instance_and_the_old_one_is_closed(
    runtime: Runtime, tmp_path: Path
) -> None:
    old_provider = runtime.snapshot.providers["slow"]
    closed = spy_on_close(old_provider)
    _write(tmp_path / "agents.yaml", CONFIG.replace("delay: 0.05", "delay: 0.01"))
    assert await runtime.reload() is True
    assert runtime.snapshot.providers["slow"] is not old_provider
    await wait_until(lambda: closed == ["echo"], what="the old provider to close")


async def test_in_flight_turns_finish_on_their_snapshot(runtime: Runtime, tmp_path: Path) -> None:
    closed = spy_on_close(runtime.snapshot.providers["slow"])

    streaming = asyncio.Event()

    async def turn() -> list[dict]:
        events = []
        async with runtime.lease("slowpoke") as agent:
            async for event in agent.run_stream("a b c d", session_id="s"):
                events.append(event)
                streaming.set()
        return events

    task = asyncio.create_task(turn())
    await asyncio.wait_for(streaming.wait(), 5)
    _write(tmp_path / "agents.yaml", CONFIG.replace("delay: 0.05", "delay: 0"))
    assert await runtime.reload() is True
    await loop_passes()  # what a retirement would close, it would have closed by now
    assert closed == []  # still leased by the running turn
    events = await task
    assert events[-1]["type"] == "finish"
    await wait_until(lambda: closed == ["echo"], what="the old provider to close")


async def test_a_removed_agent_stops_accepting_turns(runtime: Runtime, tmp_path: Path) -> None:
    held = runtime.agent("temp")
    _write(tmp_path / "agents.yaml", CONFIG.split("  - id: temp")[0])
    assert await runtime.reload() is True
    with pytest.raises(UnknownAgentError):
        runtime.agent("temp")
    assert await held.run("still here") == "echo (1 messages): still here"


async def test_invalid_or_deleted_file_keeps_the_old_config(
    runtime: Runtime, tmp_path: Path
) -> None:
    events: list[RuntimeEvent] = []
    runtime.add_listener(events.append)
    old = runtime.snapshot
    path = _write(tmp_path / "agents.yaml", CONFIG.replace("provider: slow", "provider: slwo"))
    assert await runtime.reload() is False
    assert runtime.snapshot is old
    error = runtime.last_error
    assert error is not None
    assert (error.file, error.line, error.column) == (str(path), 12, 23)
    assert str(error) == f"{path}:12:23: agents[1].model.provider: provider 'slwo' is not declared"
    assert error.as_dict()["line"] == 12

    path.unlink()
    assert await runtime.reload() is False
    assert runtime.last_error is not None and runtime.last_error.message == "file not found"
    assert runtime.snapshot is old

    _write(path, CONFIG.replace("max_history: 4", "max_history: 3"))
    assert await runtime.reload() is True
    assert runtime.last_error is None
    config_events = [e for e in events if isinstance(e, ConfigEvent)]
    assert [e.kind for e in config_events] == ["reload-failed", "reload-failed", "reloaded"]
    assert (
        config_events[0].error is not None and config_events[-1].version == runtime.snapshot.version
    )


async def test_listeners_get_session_events_from_the_current_stores(
    runtime: Runtime, tmp_path: Path
) -> None:
    events: list[RuntimeEvent] = []
    remove = runtime.add_listener(events.append)
    await runtime.agent("chat").run("hi", session_id="s1")
    _write(tmp_path / "agents.yaml", CONFIG.replace("ttl: 1h", "ttl: 2h"))  # a new store
    assert await runtime.reload() is True
    await runtime.agent("chat").run("hi", session_id="s2")
    sessions = [(e.kind, e.session_id) for e in events if isinstance(e, SessionEvent)]
    assert sessions == [("created", "s1"), ("created", "s2")]
    remove()
    await runtime.agent("chat").run("again", session_id="s2")
    assert len([e for e in events if isinstance(e, SessionEvent)]) == 2


async def test_a_store_that_does_not_open_fails_the_reload_without_secrets(
    runtime: Runtime, tmp_path: Path
) -> None:
    dsn = "postgresql://vel:hunter2-secret@127.0.0.1:1/vel?connect_timeout=1"
    text = CONFIG.replace(
        "stores:\n", f"stores:\n  pg: {{type: database, dsn: '{dsn}', timeout: 0.5}}\n"
    ).replace("    context: {mode: stateless}\n", "    context: {mode: stateless}\n    store: pg\n")
    _write(tmp_path / "agents.yaml", text)
    old = runtime.snapshot
    assert await runtime.reload() is False
    assert runtime.snapshot is old
    error = runtime.last_error
    assert (
        error is not None and error.path == "stores.pg" and "could not be opened" in error.message
    )
    assert "hunter2" not in str(error)


async def test_a_database_store_survives_reloads(
    fresh_postgres_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEL_TEST_DSN", fresh_postgres_dsn)
    text = CONFIG.replace(
        "stores:\n", "stores:\n  pg: {type: database, dsn: '${VEL_TEST_DSN}', max_size: 2}\n"
    ).replace("    context: {mode: window, max_history: 4}\n", "    store: pg\n")
    path = _write(tmp_path / "agents.yaml", text)
    async with await Runtime.from_paths([path], watch=False, close_grace=0) as runtime:
        store = runtime.snapshot.stores["pg"]
        assert store.kind == "database" and runtime.agent("chat").store is store
        await runtime.agent("chat").run("remember me", session_id="db-1")
        _write(path, text.replace("ttl: 5m", "ttl: 6m"))
        assert await runtime.reload() is True
        assert runtime.snapshot.stores["pg"] is store  # same pool, not reopened
        reply = await runtime.agent("chat").run("and now?", session_id="db-1")
        assert reply == "echo (3 messages): and now?"


PRELOAD_CHECK = """
import asyncio, sys
from vel_runner.runtime import Runtime

async def main():
    runtime = await Runtime.from_paths([sys.argv[1]], watch=False)
    loaded_before = "openai" in sys.modules
    async with runtime:
        print(loaded_before, "openai.types.chat" in sys.modules)

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("provider", "expected"),
    [("{type: openai, api_key: k}", "False True"), ("{type: echo}", "False False")],
)
def test_start_preloads_the_sdk_its_providers_need(
    tmp_path: Path, provider: str, expected: str
) -> None:
    """The first turn must not stall the event loop importing the openai SDK."""
    config = _write(
        tmp_path / "agents.yaml",
        f"version: 1\nproviders:\n  p: {provider}\nagents:\n"
        "  - id: a\n    model: {provider: p, model: m}\n",
    )
    result = subprocess.run(
        [sys.executable, "-c", PRELOAD_CHECK, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


async def test_one_injected_clock_stamps_snapshots_stores_events_and_errors(
    tmp_path: Path,
) -> None:
    frozen = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    path = _write(tmp_path / "agents.yaml", CONFIG)
    runtime = await Runtime.from_paths([path], watch=False, close_grace=0, clock=lambda: frozen)
    events: list[RuntimeEvent] = []
    runtime.add_listener(events.append)
    async with runtime:
        assert runtime.snapshot.loaded_at == frozen
        await runtime.agent("chat").run("hi", session_id="s")
        (info,) = await runtime.agent("chat").ctxmgr.alist_sessions()
        assert info.created_at == info.updated_at == frozen
        _write(path, CONFIG.replace("provider: slow", "provider: slwo"))
        assert await runtime.reload() is False
        assert runtime.last_error is not None and runtime.last_error.at == frozen
        _write(path, CONFIG.replace("max_history: 4", "max_history: 3"))
        assert await runtime.reload() is True
        assert runtime.snapshot.loaded_at == frozen
    assert [type(e).__name__ for e in events] == ["SessionEvent", "ConfigEvent", "ConfigEvent"]
    assert {e.at for e in events} == {frozen}
