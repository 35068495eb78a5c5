"""``vel-runner serve``: parse the flags (each with an environment fallback), refuse unsafe or
unworkable setups with an explanation, then run uvicorn.

Only the standard library is imported here; the server stack loads inside :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import os
import sys
from collections.abc import Sequence
from typing import Any

from .observe_flags import add_observability_flags, worker_metrics
from .settings import LOG_LEVELS, ServeSettings, SettingError

FACTORY = "vel_runner.server.app:app_from_env"


def configure(parser: argparse.ArgumentParser) -> None:
    """Flags of ``vel-runner serve``; each falls back to an environment variable, resolved
    by :meth:`ServeSettings.from_args` (a flag not given is ``None`` or ``False`` here)."""
    parser.add_argument(
        "--config",
        "-c",
        action="append",
        metavar="PATH",
        help="config file or directory, repeatable (env VEL_CONFIG, paths joined by "
        f"{os.pathsep!r}; default ./agents.yaml)",
    )
    parser.add_argument(
        "--host",
        help="interface to bind (env VEL_HOST; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port to bind (env VEL_PORT; default 8000)"
    )
    parser.add_argument(
        "--no-reload",
        action="store_true",
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
        choices=LOG_LEVELS,
        help="log level (env VEL_LOG_LEVEL; default info)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let web pages of ORIGIN (e.g. http://localhost:5173; * for any) call the API "
        "from a browser, repeatable (env VEL_CORS_ORIGINS, comma-separated; default none)",
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log one line per request"
    )
    add_observability_flags(parser)


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


def _uvicorn_options(settings: ServeSettings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "log_config": _log_config(settings.log_level, settings.log_format),
        "access_log": settings.access_log,
        "timeout_graceful_shutdown": settings.drain_timeout,
    }


async def _memory_stores(paths: Sequence[str]) -> list[str]:
    """Load the config once (no watcher) and name its memory stores."""
    from ..runtime import Runtime

    runtime = await Runtime.from_paths(paths, watch=False)
    try:
        return sorted(n for n, s in runtime.snapshot.stores.items() if s.kind == "memory")
    finally:
        await runtime.close()


async def _serve_one(settings: ServeSettings) -> bool:
    """One process: load the config, build the app, serve until a signal. ``False`` if
    uvicorn could not start (e.g. the port is taken)."""
    import uvicorn

    from ..runtime import Runtime
    from .app import create_app

    runtime = await Runtime.from_paths(settings.paths, watch=settings.reload)
    try:
        await runtime.start()  # open the stores now: an unreachable database is a clear error
    except BaseException:
        await runtime.close()
        raise
    app = create_app(
        runtime,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
        freeze_heap=True,
        sweep=True,  # expired sessions are deleted on each store's schedule
        metrics=settings.metrics,
        metrics_public=settings.metrics_public,
        log_format=settings.log_format,
        cors_origins=settings.cors_origins,
    )
    server = uvicorn.Server(uvicorn.Config(app, **_uvicorn_options(settings)))
    try:
        await server.serve()
    finally:
        await runtime.close()
    return bool(server.started)


def _serve_workers(settings: ServeSettings) -> None:
    """Several processes: uvicorn imports the app factory in each; settings go by env."""
    import uvicorn

    os.environ.update(settings.environ())
    options = _uvicorn_options(settings)
    with worker_metrics(settings.metrics):
        uvicorn.run(FACTORY, factory=True, workers=settings.workers, **options)


def _report(exc: BaseException) -> None:
    """Print why the start failed, credentials hidden: a store error may quote the DSN."""
    from ..redact import dsn_secrets, redact

    secrets = dsn_secrets(os.environ.get("POSTGRES_DSN", ""))
    print(f"vel-runner serve: {redact(str(exc), secrets)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Start the server. 0 after a clean shutdown, 1 for an invalid config, 2 for a refused
    or failed start."""
    try:
        settings = ServeSettings.from_args(args)
    except SettingError as exc:
        print(exc, file=sys.stderr)
        return 2
    reason = settings.refusal()
    if reason:
        print(f"vel-runner serve: {reason}", file=sys.stderr)
        return 2
    from ..errors import InvalidInputError, VelError

    try:
        if settings.workers > 1:
            memory = asyncio.run(_memory_stores(settings.paths))
            if memory:
                print(
                    f"vel-runner serve: --workers {settings.workers} needs every session "
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
