"""Counting the turns that hold each snapshot, so a reload closes what a retired snapshot
alone used only once its turns are done (or a bounded wait has passed).

A turn takes a lease on the snapshot current when it starts and releases it when it ends;
the runtime's retirement of an old snapshot waits here for its count to reach zero.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class SnapshotLeases:
    """Turns in flight per snapshot (keyed by identity: snapshots are frozen, never equal)."""

    __slots__ = ("_counts", "_drained")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._drained: dict[int, asyncio.Event] = {}

    def take(self, snapshot: object) -> Callable[[], None]:
        """One more turn holds ``snapshot``; returns the release (call it exactly once)."""
        key = id(snapshot)
        self._counts[key] = self._counts.get(key, 0) + 1

        def release() -> None:
            self._counts[key] -= 1
            if self._counts[key] == 0:
                del self._counts[key]
                event = self._drained.pop(key, None)
                if event is not None:
                    event.set()

        return release

    async def drained(self, snapshot: object, timeout: float) -> None:
        """Return once no turn holds ``snapshot``, or after ``timeout`` seconds regardless."""
        key = id(snapshot)
        if not self._counts.get(key):
            return
        event = self._drained.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


__all__ = ["SnapshotLeases"]
