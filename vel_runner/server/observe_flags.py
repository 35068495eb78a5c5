"""``vel-runner serve``'s observability flags (metrics, JSON logs) and the shared metrics
directory of a multi-worker server. Standard library only, like the command itself."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _env_flag(name: str, default: str = "0") -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def add_observability_flags(parser: argparse.ArgumentParser) -> None:
    """``--no-metrics``, ``--metrics-public``, ``--log-format``."""
    parser.add_argument(
        "--no-metrics",
        action="store_true",
        default=not _env_flag("VEL_METRICS", "1"),
        help="do not serve Prometheus metrics on GET /metrics (env VEL_METRICS=0)",
    )
    parser.add_argument(
        "--metrics-public",
        action="store_true",
        default=_env_flag("VEL_METRICS_PUBLIC"),
        help="serve GET /metrics without the API key (env VEL_METRICS_PUBLIC=1)",
    )
    parser.add_argument(
        "--log-format",
        choices=["plain", "json"],
        default=os.environ.get("VEL_LOG_FORMAT", "plain"),
        help="plain lines, or one JSON object per line with the request id (env "
        "VEL_LOG_FORMAT; default plain)",
    )


def observability_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "metrics": not args.no_metrics,
        "metrics_public": args.metrics_public,
        "log_format": args.log_format,
    }


@contextlib.contextmanager
def worker_metrics(settings: dict[str, Any]) -> Iterator[None]:
    """Settings for the workers (by environment), and the directory where prometheus-client
    merges their metrics: ``$PROMETHEUS_MULTIPROC_DIR`` if set (kept), else a new one
    (removed afterwards). Set before any worker imports prometheus-client."""
    os.environ["VEL_METRICS"] = "1" if settings["metrics"] else "0"
    os.environ["VEL_METRICS_PUBLIC"] = "1" if settings["metrics_public"] else "0"
    os.environ["VEL_LOG_FORMAT"] = settings["log_format"]
    if not settings["metrics"] or os.environ.get(MULTIPROC_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="vel-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
