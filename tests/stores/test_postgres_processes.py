"""The PostgreSQL store across real processes and through a server outage.

The workers are this file run as a script (``python tests/stores/test_postgres_processes.py MODE``),
so every process is a fresh interpreter with its own pool and its own cache.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.paths import REPO_ROOT, TESTS
from helpers.waiting import wait_until

#: Several processes against one database, and a server stopped mid-run.
pytestmark = pytest.mark.slow

ROOT = REPO_ROOT


def spawn(*args: str, dsn: str | None = None) -> subprocess.Popen[str]:
    # the repository for vel_runner, tests/ for the helpers this script imports
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    if dsn is not None:
        env["POSTGRES_DSN"] = dsn
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker failed ({proc.returncode}):\n{err}"
    return out


# -- a start line, so that several workers really overlap ------------------------------------
def start_line(directory: Path, count: int, timeout: float = 60) -> None:
    """Wait until ``count`` workers stand at the line in ``directory``, then start them all."""
    deadline = time.monotonic() + timeout
    while len(list(directory.glob("ready-*"))) < count:
        assert time.monotonic() < deadline, "the workers did not all start"
        time.sleep(0.01)
    (directory / "go").touch()


async def at_the_line(directory: str | None, label: str) -> None:
    """A worker's side of :func:`start_line` (after its imports: the costly part of a start)."""
    if directory is None:
        return
    (Path(directory) / f"ready-{label}").touch()
    deadline = time.monotonic() + 60
    while not (Path(directory) / "go").exists():
        assert time.monotonic() < deadline, "no start signal"
        await asyncio.sleep(0.005)


# -- workers --------------------------------------------------------------------------------
async def agent_turns(
    dsn: str, session_id: str, label: str, count: int, line: str | None = None
) -> None:
    """``count`` turns of the echo agent on one session (its reply says what it saw),
    starting when every worker at the start ``line`` (a directory) is ready."""
    from vel_runner import Agent
    from vel_runner.storage.postgres import PostgresStore

    await at_the_line(line, label)

    store = PostgresStore(dsn, max_size=2)
    agent = Agent("bot", {"provider": "echo", "model": "echo"}, session_storage=store)
    try:
        for i in range(count):
            await agent.run({"message": f"{label}-{i}"}, session_id=session_id)
    finally:
        await agent.aclose()
        await store.close()


async def guide_script(session_id: str, label: str, count: int, line: str) -> None:
    """The session guide's own pattern: ``Agent(..., session_storage="database")`` from
    ``POSTGRES_DSN``, turns on one session, and no ``aclose()`` before ``asyncio.run`` ends."""
    from vel_runner import Agent

    await at_the_line(line, label)
    agent = Agent("bot", {"provider": "echo", "model": "echo"}, session_storage="database")
    for i in range(count):
        await agent.run({"message": f"{label}-{i}"}, session_id=session_id)


async def open_and_leave(dsn: str) -> None:
    """Open a store whose pool is still connecting, use it, and never close it."""
    from vel_runner.storage.postgres import PostgresStore

    store = PostgresStore(dsn, min_size=8, max_size=8)
    await store.open()
    await store.list()


def read_session(dsn: str, session_id: str) -> None:
    """Print the session's messages as JSON, from synchronous code (the spec's ctxmgr)."""
    from vel_runner import Agent
    from vel_runner.storage.postgres import PostgresStore

    store = PostgresStore(dsn)
    agent = Agent("bot", {"provider": "echo", "model": "echo"}, session_storage=store)
    print(json.dumps(agent.ctxmgr.get_session_context(session_id)))
    asyncio.run(store.close())


def check_pairs(messages: list[dict[str, str]]) -> list[str]:
    """Assert the session is whole turns, each of which saw exactly the turns before it;
    return the user messages in order."""
    users = []
    for j in range(0, len(messages), 2):
        user, reply = messages[j], messages[j + 1]
        assert (user["role"], reply["role"]) == ("user", "assistant"), messages[j : j + 2]
        assert reply["content"] == f"echo ({j + 1} messages): {user['content']}"
        users.append(user["content"])
    return users


# -- tests ----------------------------------------------------------------------------------
def test_a_session_survives_a_process_restart(fresh_postgres_dsn: str) -> None:
    finish(spawn("turns", fresh_postgres_dsn, "s", "first", "3"))
    messages = json.loads(finish(spawn("read", fresh_postgres_dsn, "s")))
    assert check_pairs(messages) == ["first-0", "first-1", "first-2"]
    finish(spawn("turns", fresh_postgres_dsn, "s", "second", "1"))  # continues, fresh cache
    messages = json.loads(finish(spawn("read", fresh_postgres_dsn, "s")))
    assert check_pairs(messages)[-1] == "second-0" and len(messages) == 8


def test_four_processes_fifty_turns_each_on_one_session(
    fresh_postgres_dsn: str, tmp_path: Path
) -> None:
    line = str(tmp_path)  # they start together, once every interpreter is up
    procs = [spawn("turns", fresh_postgres_dsn, "hot", f"p{n}", "50", line) for n in range(4)]
    start_line(tmp_path, 4)
    for proc in procs:
        finish(proc, timeout=120)
    messages = json.loads(finish(spawn("read", fresh_postgres_dsn, "hot")))
    assert len(messages) == 400  # 200 pairs, none lost
    users = check_pairs(messages)  # none interleaved; each saw the one before
    for n in range(4):  # each process's turns, in its own order
        assert [u for u in users if u.startswith(f"p{n}-")] == [f"p{n}-{i}" for i in range(50)]
    switches = sum(a.split("-")[0] != b.split("-")[0] for a, b in itertools.pairwise(users))
    assert switches >= 10, f"the processes hardly overlapped ({switches} switches)"


def logins(dsn: str) -> int:
    """PostgreSQL logins to this database so far (``pg_stat_database.sessions``), settled."""
    import psycopg

    seen = -1
    while True:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        assert row is not None
        if row[0] == seen + 1:  # only our own login since the last look: nothing pending
            return int(row[0])
        seen = int(row[0])
        time.sleep(0.2)


def test_scripts_exit_after_contended_turns_without_aclose(
    fresh_postgres_dsn: str, tmp_path: Path
) -> None:
    """Four scripts of the guide's pattern fight over one session: all finish and exit,
    with nothing on stderr, and a waited turn reuses a pool connection (no new login)."""
    dsn = fresh_postgres_dsn
    before = logins(dsn)
    procs = [spawn("guide", dsn, "hot", f"p{n}", "25", str(tmp_path), dsn=dsn) for n in range(4)]
    try:
        start_line(tmp_path, 4)
        errors = [proc.communicate(timeout=60)[1] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [(proc.returncode, err) for proc, err in zip(procs, errors, strict=True)] == [
        (0, "")
    ] * 4
    # a script logs in for its migrations, its pool's one connection and one turn
    # connection (+ our looks); a waited turn used to close a pool connection and log in anew
    assert logins(dsn) - before <= 4 * 3 + 3
    users = check_pairs(json.loads(finish(spawn("read", dsn, "hot"))))
    assert len(users) == 100
    switches = sum(a.split("-")[0] != b.split("-")[0] for a, b in itertools.pairwise(users))
    assert switches >= 10, f"the processes hardly overlapped ({switches} switches)"


def test_a_script_exits_while_its_pool_is_still_connecting(fresh_postgres_dsn: str) -> None:
    """psycopg_pool's workers swallow the cancellation asyncio.run sends at exit when it
    lands mid-connect; the store's exit guard closes the pool so they stop."""
    for _ in range(3):
        proc = spawn("leave", fresh_postgres_dsn)
        try:
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 0, err


async def test_server_stopped_mid_run_then_started_again(private_pg_server) -> None:
    from helpers.pgserver import wait_until_accepting

    from vel_runner.errors import StoreUnavailableError
    from vel_runner.storage.postgres import PostgresStore

    dsn = private_pg_server.dsn
    store = PostgresStore(dsn, timeout=1.0)
    await store.open()
    events: list[str] = []
    store.add_listener(lambda e: events.append(e.session_id))
    acked: list[str] = []
    errors: list[tuple[float, str]] = []
    stop = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            text = f"t{i}"
            started = time.monotonic()
            try:
                async with store.turn("a", "s") as turn:
                    n = len(turn.history)
                    reply = f"echo ({n + 1} messages): {text}"
                    await turn.commit(
                        [{"role": "user", "content": text}, {"role": "assistant", "content": reply}]
                    )
                acked.append(text)
            except StoreUnavailableError as exc:
                errors.append((time.monotonic() - started, str(exc)))
                await asyncio.sleep(0.05)
            i += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(writer())
    try:
        await wait_until(lambda: len(acked) >= 20)
        await asyncio.to_thread(private_pg_server.stop)
        await wait_until(lambda: len(errors) >= 3)
        down_acked = len(acked)
        with pytest.raises(StoreUnavailableError, match="unavailable"):
            await store.list()
        with pytest.raises(StoreUnavailableError, match="unavailable"):
            await asyncio.to_thread(store.get_sync, "a", "s")
        await asyncio.to_thread(private_pg_server.start)
        await asyncio.to_thread(wait_until_accepting, dsn)
        await wait_until(lambda: len(acked) >= down_acked + 20, timeout=20)  # recovered
        assert await store.hearing_others(10)  # the LISTEN came back
    finally:
        stop.set()
        await task
    assert all(took < 3.0 for took, _ in errors), errors  # fails fast, never hangs
    assert all(msg.startswith("session database unavailable") for _, msg in errors), errors
    record = await store.get("a", "s")
    assert record is not None
    stored = check_pairs(record.messages)
    assert [t for t in stored if t in acked] == acked  # every acknowledged turn, in order
    assert len(stored) - len(acked) <= 1  # at most one whose commit reply was lost
    other = PostgresStore(dsn)
    await other.open()
    await other.clear("a", "elsewhere")
    await other.set("a", "elsewhere", [{"role": "user", "content": "x"}])
    await wait_until(lambda: "elsewhere" in events)  # events from others flow again
    await other.close()
    await store.close()


if __name__ == "__main__":
    mode, dsn, *rest = sys.argv[1:]
    if mode == "turns":
        line = rest[3] if len(rest) > 3 else None
        asyncio.run(agent_turns(dsn, rest[0], rest[1], int(rest[2]), line))
    elif mode == "guide":
        asyncio.run(guide_script(rest[0], rest[1], int(rest[2]), rest[3]))
    elif mode == "leave":
        asyncio.run(open_and_leave(dsn))
    elif mode == "read":
        read_session(dsn, rest[0])
    else:
        raise SystemExit(f"unknown mode {mode}")
