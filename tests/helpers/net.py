"""Network helpers."""

from __future__ import annotations

import os
import socket

#: Ports this process handed out: never the same one twice.
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port that was free a moment ago (the OS picks it).

    Between that moment and a server binding it, another process may take it. The test
    workers of one run (pytest-xdist) never take each other's: each keeps only ports whose
    remainder by the number of workers is its own index.
    """
    index, workers = worker()
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port % workers == index and port not in _handed_out:
            _handed_out.add(port)
            return port


def worker() -> tuple[int, int]:
    """This test worker's index and the number of workers (``(0, 1)`` without xdist)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(name.removeprefix("gw")) if name.startswith("gw") else 0
    return index % count, count
