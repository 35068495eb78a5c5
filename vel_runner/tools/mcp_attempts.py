"""The reconnect attempts of one MCP connection, as the requests see them.

A request that finds the server not connected waits for the attempt under way rather than
failing at once; one that finds it down asks for an attempt now (at most once per
:data:`RETRY_ON_CALL`) instead of waiting for the end of the backoff, so a server that came
back is used at that call. The owner task marks where attempts begin and end, and pauses
between them here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

#: A request that meets the server down starts a new attempt at most this often (seconds).
RETRY_ON_CALL = 1.0


class Attempts:
    """When the last attempt began, the future its waiters await, and a request's call to
    try again now."""

    __slots__ = ("_began", "_end", "_wake")

    def __init__(self) -> None:
        self._end: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        self._began = 0.0

    def first(self) -> None:
        """The connection opens: the first attempt gets its future."""
        self._end = asyncio.get_running_loop().create_future()

    def began(self) -> None:
        self._began = time.monotonic()

    def ended(self, *, more: bool) -> None:
        """Wake whoever waits for the attempt that just ended; when ``more`` may follow (the
        connection is still open), the next one gets a new future."""
        ended = self._end
        if ended is not None and not ended.done():
            ended.set_result(None)
        if more and (ended is None or ended.done()):
            self._end = asyncio.get_running_loop().create_future()

    def hurry(self) -> None:
        """A request met the server down: attempt now, unless one began too recently."""
        if time.monotonic() - self._began >= RETRY_ON_CALL:
            self._wake.set()

    @property
    def hurried(self) -> bool:
        """Has a request asked for an attempt that has not connected yet?"""
        return self._wake.is_set()

    def connected(self) -> None:
        self._wake.clear()

    async def wait(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) for the attempt under way to end."""
        end = self._end
        if end is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(end), timeout)

    async def pause(self, delay: float, stop: asyncio.Event) -> None:
        """Wait ``delay`` before the next attempt, or less when ``stop`` is set or a request
        asks for one."""
        stopped = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stopped, woken}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            woken.cancel()
        self._wake.clear()


__all__ = ["RETRY_ON_CALL", "Attempts"]
