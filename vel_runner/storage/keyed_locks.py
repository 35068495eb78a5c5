"""Per-key ``asyncio`` locks that exist only while someone holds or awaits them.

Both session stores serialize turns on one session with these: 100,000 idle sessions cost
no locks, and a store can ask whether a session is in a turn right now (cleanup skips such
sessions; clear and set wait for them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable


class KeyedLocks:
    """An ``asyncio.Lock`` per key, created on first use and dropped when nobody needs it."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}

    def __len__(self) -> int:
        return len(self._slots)

    def busy(self, key: Hashable) -> bool:
        """Whether a turn holds or awaits ``key`` right now."""
        return key in self._slots

    async def acquire(self, key: Hashable) -> None:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = (asyncio.Lock(), [0])
        slot[1][0] += 1
        try:
            await slot[0].acquire()
        except BaseException:
            self._forget(key, slot)
            raise

    def release(self, key: Hashable) -> None:
        slot = self._slots[key]
        slot[0].release()
        self._forget(key, slot)

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """``async with locks.hold(key):`` — acquire and always release."""
        await self.acquire(key)
        try:
            yield
        finally:
            self.release(key)

    def _forget(self, key: Hashable, slot: tuple[asyncio.Lock, list[int]]) -> None:
        slot[1][0] -= 1
        if slot[1][0] == 0:
            self._slots.pop(key, None)
