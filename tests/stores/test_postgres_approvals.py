"""Approvals on PostgreSQL, across real ``vel-runner serve`` processes: a pending call survives
a restart between the request and the answer (nothing lost, the call runs exactly once), and
two processes answering the same approval at once run it once (the other gets 409)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest
from helpers.server import ServerProcess
from helpers.waiting import wait_until

#: ``vel-runner serve`` processes against one database.
pytestmark = pytest.mark.slow

TOOL = '''
import os, time
from pathlib import Path

def wipe(path: str, log: str, gate: str) -> str:
    """Wipe a path."""
    with open(log, "a") as out:
        out.write(f"{path} {os.getpid()}\\n")
    deadline = time.monotonic() + 30
    while gate and not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # the test opens the gate once the other answer waits
    return f"wiped {path}"
'''

CONFIG = """\
version: 1
providers:
  offline: {{type: echo}}
stores:
  pg: {{type: database, dsn: "${{POSTGRES_DSN}}"}}
tools:
  wipe:
    type: python
    function: "{module}:wipe"
    approval: required
    bind: {{log: "{log}", gate: "{gate}"}}
agents:
  - id: ops
    model: {{provider: offline, model: echo-1}}
    store: pg
    tools: [wipe]
"""


def setup(tmp_path: Path, *, gate: bool) -> tuple[Path, Path, Path]:
    module = f"ops_{uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(TOOL)
    log, gate_file = tmp_path / "calls.log", tmp_path / "gate"
    config = tmp_path / "agents.yaml"
    text = CONFIG.format(module=module, log=log, gate=gate_file if gate else "")
    config.write_text(text)
    return config, log, gate_file


def serve(config: Path, dsn: str) -> ServerProcess:
    return ServerProcess("-c", str(config), "--no-reload", env={"POSTGRES_DSN": dsn})


async def ask(http: httpx.AsyncClient, session: str) -> str:
    body = {"message": '/tool wipe {"path": "/srv/data"}', "session_id": session}
    reply = (await http.post("/v1/agents/ops/runs", json=body)).json()
    assert reply["status"] == "awaiting_approval", reply
    return str(reply["approvals"][0]["id"])


async def answer(base: str, session: str, approval: str) -> httpx.Response:
    body = {"session_id": session, "approvals": [{"id": approval, "approved": True}]}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        return await http.post("/v1/agents/ops/runs", json=body)


async def test_a_restart_between_request_and_answer_loses_nothing(
    tmp_path: Path, fresh_postgres_dsn: str
) -> None:
    config, log, _ = setup(tmp_path, gate=False)
    first = serve(config, fresh_postgres_dsn)
    try:
        await first.ready()
        async with httpx.AsyncClient(base_url=first.base_url) as http:
            approval = await ask(http, "s")
    finally:
        first.stop()
    assert first.process.poll() is not None and not log.exists()  # gone, nothing ran
    second = serve(config, fresh_postgres_dsn)
    try:
        await second.ready()
        async with httpx.AsyncClient(base_url=second.base_url) as http:
            listed = (await http.get("/v1/approvals")).json()["approvals"]
            assert [(a["id"], a["session_id"], a["tool"]) for a in listed] == [
                (approval, "s", "wipe")
            ]
        done = await answer(second.base_url, "s", approval)
        assert done.status_code == 200 and done.json()["status"] == "completed"
        assert done.json()["output"] == "echo (3 messages): wipe -> wiped /srv/data"
        again = await answer(second.base_url, "s", approval)
        assert again.status_code == 409
        async with httpx.AsyncClient(base_url=second.base_url) as http:
            assert (await http.get("/v1/approvals")).json()["approvals"] == []
    finally:
        second.stop()
    assert log.read_text().count("/srv/data") == 1  # exactly once


async def test_two_processes_answering_at_once_run_the_call_once(
    tmp_path: Path, fresh_postgres_dsn: str
) -> None:
    config, log, gate = setup(tmp_path, gate=True)
    one, two = serve(config, fresh_postgres_dsn), serve(config, fresh_postgres_dsn)
    try:
        await asyncio.gather(one.ready(), two.ready())
        async with httpx.AsyncClient(base_url=one.base_url) as http:
            approval = await ask(http, "race")
        answers = [
            asyncio.create_task(answer(server.base_url, "race", approval)) for server in (one, two)
        ]
        await wait_until(lambda: log.exists() and log.read_text(), what="one call to start")

        def someone_waits() -> bool:  # the other answer queues for the session's lock
            with psycopg.connect(fresh_postgres_dsn, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()
            return bool(row and row[0])

        await wait_until(lambda: asyncio.to_thread(someone_waits), what="the second answer")
        gate.touch()
        results = await asyncio.gather(*answers)
    finally:
        one.stop()
        two.stop()
    assert sorted(r.status_code for r in results) == [200, 409]
    conflict = next(r for r in results if r.status_code == 409).json()["error"]
    assert conflict["type"] == "approval_answered" and approval in conflict["message"]
    assert len(log.read_text().splitlines()) == 1  # one process ran it, once
