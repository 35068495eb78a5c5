"""``vel-runner migrate``: apply the PostgreSQL schema migrations now.

The store applies them itself on first use; operators who prefer to migrate as a deployment
step run this instead (and may then build stores with ``migrate=False``). Safe to run
repeatedly and from several machines at once. Only the standard library at module level.
"""

from __future__ import annotations

import argparse
import os
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        help="PostgreSQL connection string (default: the POSTGRES_DSN environment variable)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the server (default 10)"
    )


def run(args: argparse.Namespace) -> int:
    dsn = args.dsn or os.environ.get("POSTGRES_DSN")
    if not dsn:
        print(
            "error: no database given: pass --dsn or set the POSTGRES_DSN environment variable "
            "(postgresql://user:password@host:5432/dbname)",
            file=sys.stderr,
        )
        return 2
    import psycopg

    from ..redact import describe_dsn, store_unavailable
    from .pg_migrate import apply_migrations, latest_version

    try:
        applied = apply_migrations(dsn, connect_timeout=args.timeout)
    except psycopg.Error as exc:
        print(f"error: {store_unavailable(dsn, exc)}", file=sys.stderr)
        return 2
    where = describe_dsn(dsn)
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print(f"{where}: schema already up to date (version {latest_version()})")
    else:
        print(f"{where}: schema at version {latest_version()}")
    return 0
