"""``vel-runner sessions cleanup``: real subprocesses against a real PostgreSQL, for cron."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from helpers.paths import REPO_ROOT
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from vel_runner.storage.postgres import PostgresStore

CONFIG = """\
version: 1
providers: {offline: {type: echo}}
stores: {pg: {type: database, dsn: "${POSTGRES_DSN}"}}
agents:  # support and sales keep sessions in PostgreSQL, local in memory
  - {id: support, model: {provider: offline, model: echo-1}, store: pg}
  - {id: sales, model: {provider: offline, model: echo-1}, store: pg}
  - {id: local, model: {provider: offline, model: echo-1}}
"""


def cli(tmp_path: Path, *args: str, dsn: str = "") -> subprocess.CompletedProcess[str]:
    path = tmp_path / "agents.yaml"
    if not path.exists():
        path.write_text(CONFIG)
    env = {**os.environ, "POSTGRES_DSN": dsn}
    env.pop("VEL_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "sessions", "cleanup", "-c", str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )


@pytest.fixture
def secret_dsn(fresh_postgres_dsn: str) -> tuple[str, str]:
    """The test database's DSN with a password in it (the test server trusts any), and it."""
    password = conninfo_to_dict(fresh_postgres_dsn).get("password") or "s3cret-Pw-42"
    return make_conninfo(fresh_postgres_dsn, password=str(password)), str(password)


def sessions(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT agent_id, id FROM vel_sessions ORDER BY 1, 2").fetchall()


def seed(dsn: str) -> None:
    """support/old and sales/old idle for 40 days, support/new fresh, support/gone expired,
    and foreign/old: an agent this config does not know (another deployment's)."""

    async def write() -> None:
        store = PostgresStore(dsn)
        try:
            for agent, sid in [("support", "old"), ("support", "new"), ("sales", "old")]:
                await store.set(agent, sid, [{"role": "user", "content": "x"}])
            await store.set("support", "gone", [{"role": "user", "content": "x"}], ttl=0.01)
            await store.set("foreign", "old", [{"role": "user", "content": "x"}])
        finally:
            await store.close()

    asyncio.run(write())
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE vel_sessions SET updated_at = now() - interval '40 days' WHERE id = 'old'"
        )


def test_cleanup_deletes_idle_and_expired_sessions_of_the_configured_agents(
    tmp_path: Path, secret_dsn: tuple[str, str]
) -> None:
    dsn, password = secret_dsn
    seed(dsn)
    dry = cli(tmp_path, "--older-than", "30d", "--dry-run", dsn=dsn)
    assert dry.returncode == 0, dry.stderr
    assert "would delete support/old" in dry.stdout and "would delete sales/old" in dry.stdout
    assert "would delete 2 session(s) in all" in dry.stdout
    assert len(sessions(dsn)) == 5  # a dry run deletes nothing

    done = cli(tmp_path, "--older-than", "30d", dsn=dsn)
    assert done.returncode == 0, done.stderr
    assert "store 'pg' (127.0.0.1:" in done.stdout
    assert "deleted 2 session(s) of agent 'support'" in done.stdout  # old, and the expired one
    assert "deleted 1 session(s) of agent 'sales'" in done.stdout
    assert "store 'memory' (memory): nothing persistent to clean" in done.stdout
    assert sessions(dsn) == [("foreign", "old"), ("support", "new")]
    for output in (dry.stdout + dry.stderr, done.stdout + done.stderr):
        assert password not in output


def test_cleanup_of_one_agent_leaves_the_others(
    tmp_path: Path, secret_dsn: tuple[str, str]
) -> None:
    dsn, _ = secret_dsn
    seed(dsn)
    done = cli(tmp_path, "--older-than", "30d", "--agent", "sales", dsn=dsn)
    assert done.returncode == 0, done.stderr
    assert "deleted 1 session(s) in all" in done.stdout
    assert ("sales", "old") not in sessions(dsn) and ("support", "old") in sessions(dsn)


def test_an_unreachable_database_exits_2_without_the_password(tmp_path: Path) -> None:
    dsn = "postgresql://app:Hunter2-Pw@127.0.0.1:1/app?connect_timeout=1"
    result = cli(tmp_path, "--older-than", "1h", dsn=dsn)
    assert result.returncode == 2
    assert "store 'pg'" in result.stderr and "unavailable" in result.stderr
    assert "Hunter2-Pw" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--older-than", "3 fortnights"], "--older-than '3 fortnights'"),
        (["--older-than", "1d", "--agent", "nobody"], "--agent 'nobody' is not in the config"),
    ],
)
def test_bad_input_exits_1_and_says_what(tmp_path: Path, args: list[str], says: str) -> None:
    result = cli(tmp_path, *args, dsn="postgresql://app@127.0.0.1:1/app")
    assert result.returncode == 1
    assert says in result.stderr


def test_an_invalid_config_exits_1_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text("version: 1\nagents:\n  - id: x\n    modle: {}\n")
    result = cli(tmp_path, "--older-than", "1d")
    assert result.returncode == 1
    assert "agents.yaml:" in result.stderr


def test_a_memory_store_has_nothing_persistent_to_clean(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text(
        "version: 1\nproviders: {offline: {type: echo}}\n"
        "agents:\n  - {id: a, model: {provider: offline, model: e}}\n"
    )
    result = cli(tmp_path, "--older-than", "1d")
    assert result.returncode == 0, result.stderr
    assert "store 'memory' (memory): nothing persistent to clean" in result.stdout


LIGHT_CHECK = """
import sys
from vel_runner.cli import main
rc = main(["sessions", "cleanup", "--older-than", "1d", "-c", sys.argv[1]])
heavy = {m.split(".")[0] for m in sys.modules} & {"openai", "textual", "fastapi", "uvicorn"}
print(rc, sorted(heavy))
"""


def test_cleanup_stays_light(tmp_path: Path, secret_dsn: tuple[str, str]) -> None:
    """No openai, textual or server stack: cron runs it often."""
    (tmp_path / "agents.yaml").write_text(CONFIG.replace("type: echo", "type: openai"))
    result = subprocess.run(
        [sys.executable, "-c", LIGHT_CHECK, str(tmp_path / "agents.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "POSTGRES_DSN": secret_dsn[0], "OPENAI_API_KEY": "unused"},
        timeout=60,
    )
    assert result.stdout.strip().endswith("0 []"), result.stdout + result.stderr
