"""Is a connected MCP server still alive? The owner task holds a connection here until it
breaks or is closed, pinging the server while it is idle.

Busy is not dead: a ping that times out while requests are in flight (a server answering a
20 MB read) or while messages keep arriving is not taken for a death; only a ping that fails
with nothing else going on is. The settings are read at every round, so a change to a
connection's ``ping_interval`` or ``connect_timeout`` applies to the connection already up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

log = logging.getLogger("vel_runner.tools.mcp")


class Pinged(Protocol):
    """What the liveness check reads of a connection: its settings and its signs of life."""

    name: str
    ping_interval: float
    connect_timeout: float

    @property
    def in_flight(self) -> int: ...

    @property
    def received(self) -> int: ...


async def hold(
    connection: Pinged, session: Any, stop: asyncio.Event, broken: asyncio.Event
) -> bool:
    """Hold ``session`` until ``stop`` (``False``) or ``broken`` (``True``) is set; every
    ``ping_interval`` without requests in flight, ping it. A ping that fails raises."""
    stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    lost: asyncio.Future[Any] = asyncio.ensure_future(broken.wait())
    ends = {stopped, lost}
    try:
        while True:
            done, _ = await asyncio.wait(
                ends, timeout=connection.ping_interval, return_when=asyncio.FIRST_COMPLETED
            )
            if not done and connection.in_flight == 0:  # busy: the requests' timeouts tell
                done = await _ping(connection, session, ends)
            if stopped in done:
                return False
            if lost in done:
                return True
    finally:
        stopped.cancel()
        lost.cancel()


async def _ping(connection: Pinged, session: Any, ends: set[asyncio.Future[Any]]) -> set[Any]:
    """One liveness ping, raced against ``ends``. A timeout is a death only when nothing
    else was going on: no request in flight and no message received meanwhile."""
    received = connection.received
    ping = asyncio.ensure_future(asyncio.wait_for(session.send_ping(), connection.connect_timeout))
    done, _ = await asyncio.wait({ping, *ends}, return_when=asyncio.FIRST_COMPLETED)
    if ping not in done:
        ping.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await ping
        return done
    failure = ping.exception()
    busy = connection.in_flight or connection.received != received
    if isinstance(failure, TimeoutError) and busy:
        log.debug("MCP server %r: ping unanswered while busy; not a failure", connection.name)
        return set()
    if failure is not None:
        raise failure
    return set()


__all__ = ["Pinged", "hold"]
