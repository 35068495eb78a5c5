"""``vel-runner serve``: parse the flags (each with an environment fallback), refuse unsafe or
unworkable setups with an explanation, then run uvicorn.

Only the standard library is imported here; the server stack loads inside :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import ipaddress
import os
import sys
from typing import Any

from .observe_flags import add_observability_flags, observability_settings, worker_metrics

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
FACTORY = "vel_runner.server.app:app_from_env"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"vel-runner serve: {name}={value!r} is not an integer") from None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``vel-runner serve``; each falls back to an environment variable."""
    env_config = os.environ.get("VEL_CONFIG")
    parser.add_argument(
        "--config",
        "-c",
        action="append",
        metavar="PATH",
        help="config file or directory, repeatable (env VEL_CONFIG, paths joined by "
        f"{os.pathsep!r}; default ./agents.yaml)",
    )
    parser.set_defaults(env_config=env_config)
    parser.add_argument(
        "--host",
        default=os.environ.get("VEL_HOST", "127.0.0.1"),
        help="interface to bind (env VEL_HOST; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to bind (env VEL_PORT; default 8000)"
    )
    parser.add_argument(
        "--no-reload",
        action="store_true",
        default=os.environ.get("VEL_RELOAD", "1").strip().lower() in ("0", "false", "no", "off"),
        help="do not reload the config when its files change (env VEL_RELOAD=0)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes; >1 needs the database store (env VEL_WORKERS; default 1)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="require 'Authorization: Bearer <key>' on /v1 routes (env VEL_API_KEY, preferred: "
        "a flag is visible in the process list)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=_env_flag("VEL_INSECURE"),
        help="allow a non-loopback host without an API key (env VEL_INSECURE=1)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=None,
        help="on SIGTERM, seconds in-flight turns get to finish (env VEL_DRAIN_TIMEOUT; "
        "default 30)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=None,
        help="largest request body accepted (env VEL_MAX_BODY_BYTES; default 1048576)",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("VEL_LOG_LEVEL", "info"),
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level (env VEL_LOG_LEVEL; default info)",
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log one line per request"
    )
    add_observability_flags(parser)


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def settings_from(args: argparse.Namespace) -> dict[str, Any]:
    """The effective settings: flags first, then the environment, then the defaults."""
    paths = args.config or [p for p in (args.env_config or "").split(os.pathsep) if p]
    return {
        "paths": [os.path.abspath(p) for p in (paths or ["agents.yaml"])],
        "host": args.host,
        "port": args.port if args.port is not None else _env_int("VEL_PORT", 8000),
        "reload": not args.no_reload,
        "workers": args.workers if args.workers is not None else _env_int("VEL_WORKERS", 1),
        "api_key": args.api_key or os.environ.get("VEL_API_KEY") or None,
        "insecure": args.insecure,
        "drain_timeout": args.drain_timeout
        if args.drain_timeout is not None
        else float(os.environ.get("VEL_DRAIN_TIMEOUT") or 30),
        "max_body_bytes": args.max_body_bytes
        if args.max_body_bytes is not None
        else _env_int("VEL_MAX_BODY_BYTES", 1024 * 1024),
        "log_level": args.log_level,
        "access_log": not args.no_access_log,
        **observability_settings(args),
    }


def refusal(settings: dict[str, Any]) -> str | None:
    """Why these settings must not start a server, or ``None``."""
    if settings["workers"] < 1:
        return f"--workers must be at least 1, got {settings['workers']}"
    if not 0 <= settings["port"] <= 65535:
        return f"--port must be 0-65535, got {settings['port']}"
    if settings["max_body_bytes"] < 1024:
        return f"--max-body-bytes must be at least 1024, got {settings['max_body_bytes']}"
    if not is_loopback(settings["host"]) and not settings["api_key"] and not settings["insecure"]:
        return (
            f"refusing to serve on {settings['host']!r} without an API key: anyone who can "
            "reach it could run the agents and read every session. Set VEL_API_KEY (or "
            "--api-key), bind 127.0.0.1, or pass --insecure if a proxy in front authenticates."
        )
    return None


def _log_config(level: str, log_format: str = "plain") -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    if log_format == "json":
        json_lines = {"()": "vel_runner.observe.logs.JsonFormatter"}
        config["formatters"] = {"default": json_lines, "access": json_lines}
    config["loggers"]["vel_runner"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def _uvicorn_options(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": settings["host"],
        "port": settings["port"],
        "log_level": settings["log_level"],
        "log_config": _log_config(settings["log_level"], settings["log_format"]),
        "access_log": settings["access_log"],
        "timeout_graceful_shutdown": settings["drain_timeout"],
    }


async def _memory_stores(paths: list[str]) -> list[str]:
    """Load the config once (no watcher) and name its memory stores."""
    from ..runtime import Runtime

    runtime = await Runtime.from_paths(paths, watch=False)
    try:
        return sorted(n for n, s in runtime.snapshot.stores.items() if s.kind == "memory")
    finally:
        await runtime.close()


async def _serve_one(settings: dict[str, Any]) -> bool:
    """One process: load the config, build the app, serve until a signal. ``False`` if
    uvicorn could not start (e.g. the port is taken)."""
    import uvicorn

    from ..runtime import Runtime
    from .app import create_app

    runtime = await Runtime.from_paths(settings["paths"], watch=settings["reload"])
    try:
        await runtime.start()  # open the stores now: an unreachable database is a clear error
    except BaseException:
        await runtime.close()
        raise
    app = create_app(
        runtime,
        api_key=settings["api_key"],
        max_body_bytes=settings["max_body_bytes"],
        freeze_heap=True,
        sweep=True,  # expired sessions are deleted on each store's schedule
        metrics=settings["metrics"],
        metrics_public=settings["metrics_public"],
        log_format=settings["log_format"],
    )
    server = uvicorn.Server(uvicorn.Config(app, **_uvicorn_options(settings)))
    try:
        await server.serve()
    finally:
        await runtime.close()
    return bool(server.started)


def _serve_workers(settings: dict[str, Any]) -> None:
    """Several processes: uvicorn imports the app factory in each; settings go by env."""
    import uvicorn

    os.environ["VEL_CONFIG"] = os.pathsep.join(settings["paths"])
    os.environ["VEL_RELOAD"] = "1" if settings["reload"] else "0"
    os.environ["VEL_MAX_BODY_BYTES"] = str(settings["max_body_bytes"])
    if settings["api_key"]:
        os.environ["VEL_API_KEY"] = settings["api_key"]
    options = _uvicorn_options(settings)
    with worker_metrics(settings):
        uvicorn.run(FACTORY, factory=True, workers=settings["workers"], **options)


def _report(exc: BaseException) -> None:
    """Print why the start failed, credentials hidden: a store error may quote the DSN."""
    from ..redact import dsn_secrets, redact

    secrets = dsn_secrets(os.environ.get("POSTGRES_DSN", ""))
    print(f"vel-runner serve: {redact(str(exc), secrets)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Start the server. 0 after a clean shutdown, 1 for an invalid config, 2 for a refused
    or failed start."""
    settings = settings_from(args)
    reason = refusal(settings)
    if reason:
        print(f"vel-runner serve: {reason}", file=sys.stderr)
        return 2
    from ..errors import InvalidInputError, VelError

    try:
        if settings["workers"] > 1:
            memory = asyncio.run(_memory_stores(settings["paths"]))
            if memory:
                print(
                    f"vel-runner serve: --workers {settings['workers']} needs every session "
                    f"store to be shared, but {', '.join(memory)} keep sessions in memory: "
                    "each worker would have its own sessions and a conversation would lose "
                    "its history whenever a request lands on another worker. Use "
                    "'type: database' stores or --workers 1.",
                    file=sys.stderr,
                )
                return 2
            _serve_workers(settings)
            return 0
        return 0 if asyncio.run(_serve_one(settings)) else 2
    except InvalidInputError as exc:  # a ConfigError says file:line:column and what to fix
        _report(exc)
        return 1
    except VelError as exc:  # e.g. a session store that cannot be reached
        _report(exc)
        return 2
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        return 2 if exc.code else 0
    except OSError as exc:
        _report(exc)
        return 2
