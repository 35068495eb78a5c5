"""Schema migrations: versioned, idempotent, safe from several processes at once, and
available as ``vel-runner migrate`` for operators."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest
from helpers.paths import REPO_ROOT

from vel_runner.storage.pg_migrate import apply_migrations, latest_version, migrations

ROOT = REPO_ROOT


def ledger(dsn: str) -> list[tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT version, name FROM vel_schema_migrations ORDER BY 1").fetchall()


def test_packaged_migrations_are_numbered_in_order() -> None:
    found = migrations()
    versions = [m.version for m in found]
    assert versions == sorted(set(versions)) and versions[:3] == [1, 2, 3]
    assert found[0].name == "sessions" and "CREATE TABLE IF NOT EXISTS vel_sessions" in found[0].sql
    assert latest_version() == versions[-1]


def test_running_twice_applies_each_version_once(fresh_postgres_dsn: str) -> None:
    packaged = [(m.version, m.name) for m in migrations()]
    assert [m.version for m in apply_migrations(fresh_postgres_dsn)] == [v for v, _ in packaged]
    assert apply_migrations(fresh_postgres_dsn) == []
    assert ledger(fresh_postgres_dsn) == packaged
    assert packaged[:3] == [(1, "sessions"), (2, "open_turn"), (3, "turn_locks")]
    assert packaged[3:5] == [(4, "message_ids"), (5, "session_usage")]
    with psycopg.connect(fresh_postgres_dsn) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'vel_sessions' ORDER BY ordinal_position"
        ).fetchall()
    assert [c[0] for c in columns][:6] == [
        "agent_id", "id", "context", "created_at", "updated_at", "expires_at"
    ]  # fmt: skip
    assert {"input_tokens", "output_tokens", "turns"} <= {c[0] for c in columns}


@pytest.mark.slow
def test_processes_migrating_at_once_do_not_race(fresh_postgres_dsn: str) -> None:
    code = (
        "import sys; from vel_runner.storage.pg_migrate import apply_migrations; "
        "print(len(apply_migrations(sys.argv[1])))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, fresh_postgres_dsn],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    applied = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        applied.append(int(out))
    assert sorted(applied) == [0, 0, 0, len(migrations())]  # exactly one process did the work
    assert ledger(fresh_postgres_dsn) == [(m.version, m.name) for m in migrations()]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "migrate", *args],
        cwd=ROOT, env={**(env or os.environ), "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_migrate_command(fresh_postgres_dsn: str) -> None:
    first = cli("--dsn", fresh_postgres_dsn)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_sessions\napplied 0002_open_turn\napplied 0003_turn_locks" in first.stdout
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_DSN"}
    again = cli(env={**env, "POSTGRES_DSN": fresh_postgres_dsn})
    assert (
        again.returncode == 0 and f"already up to date (version {latest_version()})" in again.stdout
    )
    missing = cli(env=env)
    assert missing.returncode == 2 and "POSTGRES_DSN" in missing.stderr
    down = cli("--dsn", "postgresql://vel:s3cret@127.0.0.1:1/db", "--timeout", "1")
    assert down.returncode == 2 and "unavailable" in down.stderr
    assert "s3cret" not in down.stderr + down.stdout and "Traceback" not in down.stderr
