"""Hot reload through the real watcher: real file writes, atomic saves, an invalid save in
the middle of valid ones, deletes, and directories of config files."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.waiting import saved_until_seen, wait_until

from vel_runner.runtime import ConfigEvent, Runtime, RuntimeEvent

CONFIG = """\
version: 1
providers:
  offline: {type: echo}
agents:
  - id: chat
    model: {provider: offline, model: echo-1}
    context: {mode: window, max_history: HISTORY}
"""


def config(history: int) -> str:
    return CONFIG.replace("HISTORY", str(history))


def atomic_write(path: Path, text: str) -> None:
    """Like an editor's save: write a temporary file, then rename it over the original."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def history(runtime: Runtime) -> int | None:
    return runtime.snapshot.agents["chat"].ctxmgr.max_history


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Path, list[RuntimeEvent]]]:
    path = tmp_path / "agents.yaml"
    path.write_text(config(1))
    runtime = await Runtime.from_paths([path], watch=True, close_grace=0)
    events: list[RuntimeEvent] = []
    runtime.add_listener(events.append)
    await runtime.start()
    await watching(runtime, path)
    events.clear()
    yield runtime, path, events
    await runtime.close()


async def watching(runtime: Runtime, path: Path) -> None:
    """Return once the watcher sees saves of ``path`` (its OS watch is set up in a thread a
    while after ``start``): save another config until it is live, then the first one again."""
    first = path.read_text()
    await saved_until_seen(lambda: path.write_text(config(99)), lambda: history(runtime) == 99)
    path.write_text(first)
    await wait_until(lambda: history(runtime) != 99, what="the first config again")


def config_events(events: list[RuntimeEvent]) -> list[str]:
    return [e.kind for e in events if isinstance(e, ConfigEvent)]


async def test_a_save_is_live_quickly(watched: tuple[Runtime, Path, list[RuntimeEvent]]) -> None:
    runtime, path, _ = watched
    latencies = []
    for n in range(2, 7):
        path.write_text(config(n))
        latencies.append(await wait_until(lambda n=n: history(runtime) == n))
    assert sorted(latencies)[len(latencies) // 2] < 0.3


async def test_atomic_saves_are_seen(watched: tuple[Runtime, Path, list[RuntimeEvent]]) -> None:
    runtime, path, _ = watched
    for n in (5, 6, 7):
        atomic_write(path, config(n))
        await wait_until(lambda n=n: history(runtime) == n)


async def test_an_invalid_save_among_valid_ones_changes_nothing(
    watched: tuple[Runtime, Path, list[RuntimeEvent]],
) -> None:
    runtime, path, events = watched
    await runtime.agent("chat").run("hello", session_id="s")
    path.write_text(config(2))
    await wait_until(lambda: history(runtime) == 2)
    good = runtime.snapshot

    atomic_write(path, config(3).replace("mode: window", "mode: windw"))
    await wait_until(lambda: runtime.last_error is not None)
    assert runtime.snapshot is good
    error = runtime.last_error
    assert error is not None and (error.line, error.path) == (7, "agents[0].context.mode")
    assert await runtime.agent("chat").run("still served", session_id="s")

    path.write_text(config(4))
    await wait_until(lambda: history(runtime) == 4)
    assert runtime.last_error is None
    assert await runtime.agent("chat").ctxmgr.aget_session_context("s")  # history survived
    kinds = config_events(events)
    assert kinds[-2:] == ["reload-failed", "reloaded"] and "reload-failed" in kinds


async def test_a_deleted_file_keeps_the_old_config(
    watched: tuple[Runtime, Path, list[RuntimeEvent]],
) -> None:
    runtime, path, _ = watched
    path.unlink()
    await wait_until(lambda: runtime.last_error is not None)
    assert runtime.last_error is not None and runtime.last_error.message == "file not found"
    assert history(runtime) == 1
    path.write_text(config(8))
    await wait_until(lambda: history(runtime) == 8 and runtime.last_error is None)


async def test_other_files_in_the_directory_are_ignored(
    watched: tuple[Runtime, Path, list[RuntimeEvent]], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, path, events = watched
    caplog.set_level(logging.DEBUG, "vel_runner.config.reload")
    (path.parent / "notes.txt").write_text("hello")
    (path.parent / "other.yaml").write_text("not: a config")
    path.write_text(config(2))  # changes are seen in order: once this one is live...
    await wait_until(lambda: history(runtime) == 2)
    seen = [r.getMessage() for r in caplog.records if "config files changed" in r.getMessage()]
    assert seen and all("agents.yaml" in line for line in seen)
    assert not [line for line in seen if "notes.txt" in line or "other.yaml" in line]
    assert config_events(events) == ["reloaded"] and runtime.last_error is None


async def test_a_directory_of_configs_reloads_on_new_files(tmp_path: Path) -> None:
    (tmp_path / "10-base.yaml").write_text(config(1))
    runtime = await Runtime.from_paths([tmp_path], watch=True, close_grace=0)
    async with runtime:
        more = "version: 1\nagents:\n  - id: extra\n    model: {provider: offline, model: m}\n"
        await saved_until_seen(
            lambda: (tmp_path / "20-more.yml").write_text(more),
            lambda: "extra" in runtime.snapshot.agents,
        )
        assert runtime.snapshot.files == [
            str(tmp_path / "10-base.yaml"),
            str(tmp_path / "20-more.yml"),
        ]
        (tmp_path / "30-dup.yaml").write_text(
            "version: 1\nagents:\n  - id: extra\n    model: {provider: offline, model: m}\n"
        )
        await wait_until(lambda: runtime.last_error is not None)
        assert (
            runtime.last_error is not None
            and "duplicate agent id 'extra'" in runtime.last_error.message
        )
        (tmp_path / "30-dup.yaml").unlink()
        await wait_until(lambda: runtime.last_error is None)
