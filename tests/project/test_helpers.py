"""The shared test helpers themselves: waiting on a condition, the frozen clock, free ports,
one install of a node harness at a time."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from helpers.clock import FROZEN, FrozenClock
from helpers.net import free_port
from helpers.node import installed, node_harness, require_node
from helpers.pgserver import DatabaseSupply
from helpers.waiting import wait_until


async def test_wait_until_returns_once_the_condition_holds() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, flag.set)
    waited = await wait_until(flag.is_set, timeout=5)
    assert flag.is_set() and 0.03 < waited < 5


async def test_wait_until_awaits_an_async_predicate_and_names_what_timed_out() -> None:
    async def never() -> bool:
        return False

    with pytest.raises(AssertionError, match=r"timed out after 0\.05 s waiting for the moon"):
        await wait_until(never, timeout=0.05, what="the moon")


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock()
    assert clock() == FROZEN
    clock.advance(90)
    assert (clock() - FROZEN).total_seconds() == 90


def test_free_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


def test_test_workers_never_pick_the_same_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under pytest-xdist each worker takes only its own share of ports, and one process
    never hands out a port twice."""
    for workers in (2, 3):
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(workers))
        for index in range(workers):
            monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
            ports = [free_port() for _ in range(20)]
            assert {port % workers for port in ports} == {index}
            assert len(set(ports)) == 20


def test_one_npm_install_of_a_harness_at_a_time(tmp_path: Path) -> None:
    """Two workers needing the same node harness at once: one ``npm ci`` runs, the other
    waits for it and uses what it installed (two would delete each other's node_modules)."""
    require_node()
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "package.json").write_text('{"name": "local", "version": "1.0.0"}')
    (tmp_path / "postinstall.js").write_text(
        "const fs = require('fs');\n"
        "fs.appendFileSync('installs.log', 'start\\n');\n"
        "setTimeout(() => fs.appendFileSync('installs.log', 'end\\n'), 300);\n"
    )
    package = {
        "name": "harness",
        "version": "1.0.0",
        "private": True,
        "dependencies": {"local": "file:./local"},
        "scripts": {"postinstall": "node postinstall.js"},
    }
    (tmp_path / "package.json").write_text(json.dumps(package))
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--ignore-scripts", "--offline"],
        cwd=tmp_path, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with ThreadPoolExecutor(2) as pool:
        harnesses = list(pool.map(lambda _: node_harness(tmp_path), range(2)))
    assert harnesses == [tmp_path, tmp_path]
    assert (tmp_path / "installs.log").read_text().split() == ["start", "end"]
    assert installed(tmp_path)


def test_the_database_supply_makes_new_empty_databases_and_drops_them(postgres_dsn: str) -> None:
    def databases() -> set[str]:
        with psycopg.connect(postgres_dsn) as conn:
            return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}

    supply = DatabaseSupply(postgres_dsn, ahead=1)
    try:
        taken = [supply.take() for _ in range(3)]
        names = [name for name, _ in taken]
        assert len(set(names)) == 3 and set(names) <= databases()
        for _, dsn in taken:
            with psycopg.connect(dsn) as conn:
                tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                assert tables.fetchone() == (0,)
        for name in names:
            supply.give_back(name)
    finally:
        supply.close()
    assert not set(names) & databases()
