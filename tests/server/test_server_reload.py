"""Hot reload while requests flow: an invalid save fails no request, the old config keeps
serving, ``/v1/config`` and ``/v1/events`` report the error; a valid save swaps agents in
without losing sessions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from helpers.server import read_events, serving
from helpers.waiting import wait_until

from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

VALID = """\
version: 1
providers:
  offline: {type: echo}
agents:
  - id: echo
    model: {provider: offline, model: echo-1}
"""
INVALID = VALID + "  - id: broken\n    model: {provider: missing, model: x}\n"
GROWN = VALID + "  - id: second\n    model: {provider: offline, model: echo-2}\n"


async def test_reload_under_load(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(VALID)
    runtime = await Runtime.from_paths([path], watch=True, debounce_ms=50)
    async with serving(create_app(runtime)) as url, httpx.AsyncClient(base_url=url) as http:
        stop = asyncio.Event()
        failures: list[str] = []
        turns: dict[str, int] = {}

        async def traffic(sid: str) -> None:
            while not stop.is_set():
                body = {"message": "ping", "session_id": sid}
                response = await http.post("/v1/agents/echo/runs", json=body)
                if response.status_code != 200:
                    failures.append(response.text)
                    continue
                turns[sid] = turns.get(sid, 0) + 1
                expected = f"echo ({2 * turns[sid] - 1} messages): ping"
                if response.json()["output"] != expected:
                    failures.append(f"{sid}: lost history: {response.json()['output']}")

        events: list[dict] = []

        def reloads(frames: list[dict]) -> list[dict]:
            return [f for f in frames if (f["event"] or "").startswith("reload")]

        connected = asyncio.Event()
        listener = asyncio.create_task(
            read_events(http, events, lambda f: len(reloads(f)) >= 2, connected=connected)
        )
        clients = [asyncio.create_task(traffic(f"s{n}")) for n in range(8)]

        async def more_turns(count: int) -> None:
            done = sum(turns.values())
            await wait_until(lambda: sum(turns.values()) >= done + count, what=f"{count} turns")

        try:
            await asyncio.wait_for(connected.wait(), 5)
            await wait_until(lambda: len(turns) == 8, what="every client's first turn")
            version = (await http.get("/v1/config")).json()["version"]

            path.write_text(INVALID)

            async def failed() -> bool:
                return (await http.get("/v1/config")).json()["last_reload_error"] is not None

            await wait_until(failed, what="the failed reload")
            config = (await http.get("/v1/config")).json()
            error = config["last_reload_error"]
            assert config["version"] == version  # the old config keeps serving
            assert error["file"].endswith("agents.yaml") and error["line"] == 8
            assert "missing" in error["message"]
            await more_turns(16)  # traffic goes on, on the old config

            path.write_text(GROWN)

            async def grown() -> bool:
                agents = (await http.get("/v1/agents")).json()["agents"]
                return [a["id"] for a in agents] == ["echo", "second"]

            await wait_until(grown, what="the second agent")
            await more_turns(16)
            stop.set()
            await asyncio.gather(*clients)
            await asyncio.wait_for(listener, 5)
            config = (await http.get("/v1/config")).json()
            assert config["last_reload_error"] is None and config["version"] != version
            second = await http.post("/v1/agents/second/runs", json={"message": "new"})
            assert second.status_code == 200
        finally:
            stop.set()
            for task in (*clients, listener):
                task.cancel()

    assert failures == []
    assert sum(turns.values()) > 40
    events = reloads(events)
    assert [e["event"] for e in events] == ["reload-failed", "reloaded"]
    assert json.loads(events[0]["data"])["error"]["line"] == 8
    assert json.loads(events[1]["data"])["version"] == config["version"]
