"""``vel-runner serve``'s observability flags (metrics, JSON logs) and the shared metrics
directory of a multi-worker server. Standard library only, like the command itself; the
flags resolve (with their ``VEL_*`` variables) in :class:`~.settings.ServeSettings`."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def add_observability_flags(parser: argparse.ArgumentParser) -> None:
    """``--no-metrics``, ``--metrics-public``, ``--log-format``."""
    parser.add_argument(
        "--no-metrics",
        action="store_true",
        default=None,
        help="do not serve Prometheus metrics on GET /metrics (env VEL_METRICS=0)",
    )
    parser.add_argument(
        "--metrics-public",
        action="store_true",
        default=None,
        help="serve GET /metrics without the API key (env VEL_METRICS_PUBLIC=1)",
    )
    parser.add_argument(
        "--log-format",
        choices=["plain", "json"],
        default=None,
        help="plain lines, or one JSON object per line with the request id (env "
        "VEL_LOG_FORMAT; default plain)",
    )


@contextlib.contextmanager
def worker_metrics(enabled: bool) -> Iterator[None]:
    """The directory where prometheus-client merges the workers' metrics:
    ``$PROMETHEUS_MULTIPROC_DIR`` if set (kept), else a new one (removed afterwards). Set
    before any worker imports prometheus-client."""
    if not enabled or os.environ.get(MULTIPROC_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="vel-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
