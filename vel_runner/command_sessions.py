"""``vel-runner sessions cleanup``: delete idle sessions straight from the configured stores.

For cron (the session guide's "periodic cleanup"): no server needs to run. It reads
agents.yaml, opens the database stores the selected agents use and deletes their sessions not
updated for ``--older-than`` (and expired ones), skipping sessions in a turn; ``--dry-run``
lists what would go. Like the server, it only touches sessions of agents in the config: a
database shared with other deployments may hold others. A memory store lives inside the
serving process, so there is nothing persistent to clean: it says so (the server's cleanup
route or the dashboard's ``x`` does that). Only the standard library at module level; never
imports openai, textual or the server stack.

Exit codes: 0 done, 1 invalid input or config, 2 a store could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config.model import Config


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    cleanup = sub.add_parser(
        "cleanup",
        help="delete sessions idle for a while (and expired ones) from the database stores",
        description="Delete sessions not updated for --older-than (and expired ones) directly "
        "from the configured database stores; sessions in a turn are skipped.",
    )
    cleanup.add_argument(
        "--older-than",
        required=True,
        metavar="DURATION",
        help="idle for at least this long: 30d, 12h, 90m or seconds",
    )
    cleanup.add_argument("--agent", metavar="ID", help="only this agent's sessions")
    cleanup.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
    )
    cleanup.add_argument(
        "--config",
        "-c",
        action="append",
        metavar="PATH",
        help="config file or directory, repeatable (env VEL_CONFIG; default ./agents.yaml)",
    )


def _fail(message: str, code: int) -> int:
    print(f"vel-runner sessions cleanup: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from .config.errors import ConfigError
    from .durations import parse_duration
    from .errors import InvalidInputError

    try:
        seconds = parse_duration(args.older_than)
    except (InvalidInputError, ValueError, TypeError) as exc:
        return _fail(f"--older-than {args.older_than!r}: {exc}", 1)
    env_paths = [p for p in os.environ.get("VEL_CONFIG", "").split(os.pathsep) if p]
    paths = args.config or env_paths or ["agents.yaml"]
    from .config.validate import load_config

    try:
        config = load_config(paths)
    except ConfigError as exc:
        return _fail(str(exc), 1)
    if args.agent is not None and args.agent not in config.agents:
        known = ", ".join(sorted(config.agents)) or "none"
        return _fail(f"--agent {args.agent!r} is not in the config (agents: {known})", 1)
    return asyncio.run(_cleanup(config, seconds, args.agent, args.dry_run))


def _agents_by_store(config: Config, agent_id: str | None) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for agent, decl in sorted(config.agents.items()):
        if agent_id is None or agent == agent_id:
            grouped.setdefault(decl["store"], []).append(agent)
    return grouped


async def _cleanup(config: Config, seconds: float, agent_id: str | None, dry_run: bool) -> int:
    from .errors import VelError

    status, total = 0, 0
    for name, agents in sorted(_agents_by_store(config, agent_id).items()):
        decl: Mapping[str, Any] = config.stores[name]
        if decl["type"] == "memory":
            print(
                f"store {name!r} (memory): nothing persistent to clean; its sessions live in "
                "the serving process (use POST /v1/sessions/cleanup or the dashboard)"
            )
            continue
        try:
            total += await _clean_store(config, name, agents, seconds, dry_run)
        except VelError as exc:  # unreachable, no DSN...: messages never hold a password
            print(f"vel-runner sessions cleanup: store {name!r}: {exc}", file=sys.stderr)
            status = 2
    verb = "would delete" if dry_run else "deleted"
    suffix = " (expired sessions are deleted too and not listed)" if dry_run else ""
    print(f"{verb} {total} session(s) in all{suffix}")
    return status


async def _clean_store(
    config: Config, name: str, agents: list[str], seconds: float, dry_run: bool
) -> int:
    from .config.build import make_store
    from .config.checks import DSN_ENV
    from .redact import describe_dsn

    decl = config.stores[name]
    store = make_store(name, decl, config.environ)
    where = describe_dsn(decl.get("dsn") or config.environ.get(DSN_ENV, ""))
    total = 0
    try:
        await store.open()
        for agent in agents:
            if dry_run:
                rows = await store.list(agent, inactive_for=seconds)
                for info in rows:
                    idle = info.updated_at.isoformat(timespec="seconds")
                    print(f"would delete {agent}/{info.session_id} (last updated {idle})")
                count = len(rows)
            else:
                count = await store.delete_inactive(seconds, agent)
            verb = "would delete" if dry_run else "deleted"
            print(f"store {name!r} ({where}): {verb} {count} session(s) of agent {agent!r}")
            total += count
    finally:
        await store.close()
    return total
