"""``vel-runner monitor``: argument parsing for the dashboard; textual loads only in ``run``."""

from __future__ import annotations

import argparse
import os
import sys

from .durations import parse_duration

DEFAULT_URL = "http://127.0.0.1:8000"


def _refresh_interval(text: str) -> float:
    """argparse type for ``--refresh``: a duration between 100ms and 1h."""
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not 0.1 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"--refresh must be between 100ms and 1h, got {text!r}")
    return seconds


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``--url``, ``--api-key`` and ``--refresh`` (the first two default from env)."""
    parser.add_argument(
        "--url",
        default=os.environ.get("VEL_URL", DEFAULT_URL),
        help=f"the server's base URL (env VEL_URL; default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("VEL_API_KEY"),
        help="the server's API key (env VEL_API_KEY; never shown on screen)",
    )
    parser.add_argument(
        "--refresh",
        type=_refresh_interval,
        default=1.0,
        metavar="DURATION",
        help="how often to poll when live events are unavailable (default 1s)",
    )


def run(args: argparse.Namespace) -> int:
    """Start the dashboard; returns when the person quits."""
    url = str(args.url).strip()
    if not url.startswith(("http://", "https://")):
        print(
            f"vel-runner monitor: --url must start with http:// or https://, got {url!r}",
            file=sys.stderr,
        )
        return 2
    from .app import MonitorApp
    from .client import ApiClient

    client = ApiClient(url, api_key=args.api_key)
    app = MonitorApp(client, refresh=args.refresh, freeze_heap=True)
    app.run()
    return 0
