"""``vel-runner serve``: parse the flags (each with an environment fallback), refuse unsafe or
unworkable setups with an explanation, then run uvicorn.

Only the standard library is imported here; the server stack loads inside :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import logging
import os
import sys
from collections.abc import Iterator, Sequence
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


#: The least severe record of other libraries (the MCP SDK, OpenTelemetry, httpx...) shown.
THIRD_PARTY_LEVEL = logging.WARNING


def _log_config(level: str, log_format: str = "plain") -> dict[str, Any]:
    """uvicorn's logging, plus vel-runner's loggers at ``level`` and every other library's
    records at WARNING or above (``level`` if higher), all through the same handler: with
    ``--log-format json`` each of them is a JSON line too, never a plain one in the stream."""
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
    third_party = max(THIRD_PARTY_LEVEL, logging.getLevelName(level.upper()))
    config["root"] = {"handlers": ["default"], "level": logging.getLevelName(third_party)}
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
    import logging.config

    import uvicorn

    from ..runtime import Runtime
    from .app import create_app
    from .stop_signals import close_despite_signals, start_unless_stopped

    # before the runtime starts: MCP servers connect (and their SDK logs) before uvicorn runs
    logging.config.dictConfig(_log_config(settings.log_level, settings.log_format))
    runtime = await Runtime.from_paths(settings.paths, watch=settings.reload)
    try:
        # open the stores now (an unreachable database is a clear error) and start the MCP
        # servers; a SIGTERM meanwhile stops them all and exits cleanly
        started = await start_unless_stopped(runtime.start)
    except BaseException:
        await close_despite_signals(runtime.close)
        raise
    if not started:
        await close_despite_signals(runtime.close)
        return True
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
        await close_despite_signals(runtime.close)
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
    with _logging_restored():
        if settings.log_format == "json":
            logging.captureWarnings(True)  # a library's warnings.warn as a JSON line too
        return _serve(settings)


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Give the loggers the command configures (root, vel_runner's, uvicorn's) back as they
    were when serving ends: it configures them for the process, and a caller (an embedding,
    a test) may run it in its own."""
    names = ["", *_log_config("info")["loggers"]]
    loggers = [logging.getLogger(name) for name in names]
    saved = [(lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for logger, (level, handlers, propagate, disabled) in zip(loggers, saved, strict=True):
            logger.setLevel(level)
            logger.handlers[:] = handlers
            logger.propagate, logger.disabled = propagate, disabled


def _serve(settings: ServeSettings) -> int:
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
