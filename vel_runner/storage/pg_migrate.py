"""Versioned schema migrations for the PostgreSQL store.

Migrations are the SQL files in ``vel_runner/storage/migrations/`` named ``NNNN_name.sql``;
``vel_schema_migrations`` records which versions a database has. :func:`apply_migrations`
applies the missing ones in order, each in its own transaction, while holding a session-level
advisory lock, so several processes starting at once apply each version exactly once. It runs
on the store's first ``open()`` and from ``vel-runner migrate``.

Only the standard library is imported at module level (psycopg inside the function), so the
CLI can import this module cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

#: The advisory lock (two-int form, a key space apart from the per-session bigint locks).
MIGRATION_LOCK = (0x76656C, 1)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS vel_schema_migrations (
    version    INTEGER     PRIMARY KEY,
    name       TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The packaged migrations, oldest first."""
    found = []
    for entry in resources.files("vel_runner.storage").joinpath("migrations").iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def latest_version() -> int:
    return max((m.version for m in migrations()), default=0)


def apply_migrations(dsn: str, *, connect_timeout: float = 5.0) -> list[Migration]:
    """Bring the database at ``dsn`` up to date; return the migrations this call applied.

    Idempotent and safe to run from several processes at once. Raises ``psycopg.Error``.
    """
    import psycopg

    applied_now: list[Migration] = []
    timeout = max(1, round(connect_timeout))
    with psycopg.connect(dsn, autocommit=True, connect_timeout=timeout) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", MIGRATION_LOCK)
        try:
            conn.execute(_CREATE_LEDGER)
            done = {row[0] for row in conn.execute("SELECT version FROM vel_schema_migrations")}
            for migration in migrations():
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO vel_schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied_now.append(migration)
        finally:
            if not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", MIGRATION_LOCK)
    return applied_now
