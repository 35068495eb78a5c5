"""Relisting a server's tools on ``notifications/tools/list_changed``, coalesced: a flood of
20,000 notifications made one listing (and two log lines) each, pinning a core for minutes.
Now one listing runs at a time, the notifications that arrive meanwhile make one more, and
listings start at most every :data:`RELIST_EVERY` seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

#: Listings start at most this often (seconds): a burst of notifications becomes one.
RELIST_EVERY = 0.5


class Relister:
    """Runs ``list_tools`` (``False``: it could not, stop) after notifications, coalesced."""

    def __init__(self, name: str, list_tools: Callable[[], Awaitable[bool]]) -> None:
        self.name = name
        self._list_tools = list_tools
        self._task: asyncio.Task[None] | None = None
        self._pending = False
        self._listed_at = 0.0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def listed(self) -> None:
        """A listing was just made (on connect too): the next waits its turn."""
        self._listed_at = time.monotonic()

    def notify(self) -> None:
        """The server said its tools changed."""
        self._pending = True
        if not self.running:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name=f"mcp-{self.name}-relist")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while self._pending:
            wait = self._listed_at + RELIST_EVERY - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # let the burst gather into one listing
                continue
            self._pending = False
            if not await self._list_tools():
                return
            self.listed()


__all__ = ["RELIST_EVERY", "Relister"]
