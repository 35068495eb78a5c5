"""The scheduled sweep of expired sessions, which ``vel-runner serve`` runs so stores do not grow.

A TTL is otherwise enforced only when a session is touched: an expired session nobody asks
for again would stay in memory, or in ``vel_sessions``, until someone ran a cleanup. The
sweeper calls each store's :meth:`~vel_runner.storage.base.SessionStore.sweep` every
``sweep`` interval of its declaration (``off`` disables it). It follows reloads: each pass
looks at the runtime's current stores. Sessions in a turn are skipped by the stores, and the
database store lets one process sweep at a time, so ``--workers N`` do not all delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .durations import parse_duration
from .errors import VelError

if TYPE_CHECKING:
    from .runtime import Runtime
    from .storage.base import SessionStore

log = logging.getLogger(__name__)

#: The interval of a store without a declaration (built in code, not from agents.yaml); the
#: schema declares the same default for declared stores.
DEFAULT_SWEEP = "5m"
#: Shorter intervals are raised to this: a sweep is a scan of the store.
MIN_INTERVAL = 1.0


def sweep_interval(declaration: Mapping[str, Any] | None) -> float | None:
    """Seconds between sweeps for a store declaration; ``None`` for ``sweep: off``."""
    value = (declaration or {}).get("sweep", DEFAULT_SWEEP)
    if value == "off":
        return None
    return max(MIN_INTERVAL, parse_duration(value))


class Sweeper:
    """Sweeps the runtime's stores on their schedules until stopped (first pass at start).

    ``async with Sweeper(runtime):`` or :meth:`start` / :meth:`stop`. ``tick``: how often it
    looks for a store that is due (and for a reload's new stores).
    """

    def __init__(self, runtime: Runtime, *, tick: float = 1.0) -> None:
        self._runtime = runtime
        self._tick = tick
        self._last: dict[int, float] = {}  # id(store) -> loop time of its last sweep
        self._task: asyncio.Task[None] | None = None

    def due(self, now: float) -> list[tuple[str, SessionStore]]:
        """The current stores whose interval has passed since their last sweep."""
        snapshot = self._runtime.snapshot
        found: list[tuple[str, SessionStore]] = []
        last: dict[int, float] = {}
        for name, store in snapshot.stores.items():
            if id(store) in last:
                continue  # one store under two names
            last[id(store)] = self._last.get(id(store), -math.inf)
            interval = sweep_interval(snapshot.declarations.get(("stores", name)))
            if interval is not None and now - last[id(store)] >= interval:
                found.append((name, store))
        self._last = last  # forget stores a reload retired
        return found

    async def sweep_due(self) -> int:
        """One pass: sweep every store that is due; the sessions deleted. Never raises for a
        store that fails (it is logged and tried again at its next interval)."""
        now = asyncio.get_running_loop().time()
        deleted = 0
        for name, store in self.due(now):
            self._last[id(store)] = now
            try:
                count = await store.sweep()
            except VelError as exc:  # e.g. the database is down: its message has no secret
                log.warning("sweeping store %r failed: %s", name, exc)
                continue
            except Exception:
                log.exception("sweeping store %r failed", name)
                continue
            if count:
                log.info("swept %d expired session(s) from store %r", count, name)
            deleted += count
        return deleted

    def start(self) -> None:
        """Start sweeping in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="vel-sweeper")

    async def stop(self) -> None:
        """Stop, waiting for a sweep in progress to be cancelled. Idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self.sweep_due()
            await asyncio.sleep(self._tick)

    async def __aenter__(self) -> Sweeper:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


__all__ = ["DEFAULT_SWEEP", "MIN_INTERVAL", "Sweeper", "sweep_interval"]
