"""Per-key locks that exist only while someone holds or awaits them.

Both session stores serialize turns on one session with these: 100,000 idle sessions cost
no locks, and a store can ask whether a session is in a turn right now (cleanup skips such
sessions; clear and set wait for them).

A lock nobody waits for is just its key in a dict: taking it and letting it go costs no
``asyncio.Lock`` and no future, which is nearly every turn. Waiters queue in order (first
come, first served); a waiter cancelled after the lock was handed to it passes it on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Hashable


class KeyedLocks:
    """A lock per key, made on first use and gone when nobody holds or awaits it."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        #: key -> the futures of its waiters, in order (``None``: held, nobody waits)
        self._held: dict[Hashable, deque[asyncio.Future[None]] | None] = {}

    def __len__(self) -> int:
        return len(self._held)

    def busy(self, key: Hashable) -> bool:
        """Whether someone holds or awaits ``key`` right now."""
        return key in self._held

    async def acquire(self, key: Hashable) -> None:
        held = self._held
        if key not in held:
            held[key] = None
            return
        waiters = held[key]
        if waiters is None:
            waiters = held[key] = deque()
        turn = asyncio.get_running_loop().create_future()
        waiters.append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.release(key)  # it was handed the lock as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    waiters.remove(turn)
            raise

    def release(self, key: Hashable) -> None:
        held = self._held
        waiters = held[key]
        while waiters:
            turn = waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the next waiter holds it now
                return
        del held[key]

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """``async with locks.hold(key):`` — acquire and always release."""
        await self.acquire(key)
        try:
            yield
        finally:
            self.release(key)
