"""Closing a store whose event loop ends without ``close()`` (a script's ``asyncio.run``).

``asyncio.run`` ends by cancelling every task still pending and waiting for them. psycopg_pool's
maintenance workers swallow a cancellation that lands in the middle of a job (a connect in
progress) and then wait for their next job, forever: a script that never closed its store hung
at exit. An :class:`ExitGuard` is a task that waits for nothing until that same cancellation
reaches it; then it closes the store, which tells those workers to stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class ExitGuard:
    """Runs ``on_exit`` when its loop cancels it; :meth:`disarm` first to close normally."""

    def __init__(self, on_exit: Callable[[], Awaitable[None]]) -> None:
        self._on_exit = on_exit
        self._task: asyncio.Task[None] | None = None

    def arm(self) -> None:
        """Watch the running loop (once per loop)."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self._task = loop.create_task(self._watch(), name="vel-exit-guard")

    def disarm(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    async def _watch(self) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            if self._task is asyncio.current_task():  # not disarmed: the loop is ending
                self._task = None
                await self._on_exit()
            raise
