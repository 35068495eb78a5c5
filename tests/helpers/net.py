"""Network helpers."""

from __future__ import annotations

import os
import random
import socket

#: Ports below Linux's default ephemeral range (32768-60999), where the OS picks the ports of
#: outgoing connections and of ``bind(0)``: a server's port here is not taken by a client.
PORTS = range(20000, 32768)
#: Ports this process handed out: never the same one twice.
_handed_out: set[int] = set()
_random = random.Random()


def free_port() -> int:
    """A loopback port that was free a moment ago.

    Between that moment and a server binding it, another process may take it. The test
    workers of one run (pytest-xdist) never take each other's: each keeps only ports whose
    remainder by the number of workers is its own index. (The OS's own pick, ``bind(0)``,
    cannot be shared out that way: Linux gives such ports of one parity only.)
    """
    index, workers = worker()
    while True:
        first = PORTS.start + (index - PORTS.start) % workers  # the first of this worker's
        port = _random.randrange(first, PORTS.stop, workers)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port


def worker() -> tuple[int, int]:
    """This test worker's index and the number of workers (``(0, 1)`` without xdist)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(name.removeprefix("gw")) if name.startswith("gw") else 0
    return index % count, count
