"""Await a condition instead of sleeping a guessed time: tests stay fast when the machine is
fast and correct when it is loaded."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(
    predicate: Callable[[], object],
    timeout: float = 10.0,
    *,
    interval: float = 0.01,
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep,
    what: str = "the condition",
) -> float:
    """Seconds until ``predicate()`` is true (it may return an awaitable); fails the test
    with ``what`` after ``timeout``. ``pause`` waits between checks (e.g. a Textual
    ``pilot.pause``, so the app keeps processing its messages)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return loop.time() - start
        if loop.time() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pause(interval)


async def pilot_until(pilot: Any, condition: Callable[[], object], timeout: float = 8.0) -> None:
    """:func:`wait_until` under a Textual ``Pilot``: the app processes its messages between
    checks."""
    await wait_until(condition, timeout, interval=0.05, pause=pilot.pause)


async def loop_passes(count: int = 20) -> None:
    """Let every task that is ready run ``count`` more steps. For checks that something did
    *not* happen when what would make it happen waits for nothing but the event loop (no
    I/O, no timer): a fixed number of passes, not a guessed time."""
    for _ in range(count):
        await asyncio.sleep(0)


async def saved_until_seen(
    save: Callable[[], object], seen: Callable[[], object], *, tries: int = 50
) -> None:
    """``save()`` until ``seen()``, waiting up to half a second after each save: for a file
    watcher, whose OS watch is set up in a thread a while after it starts (a save before
    that is never seen, and nothing says when it is ready)."""
    for _ in range(tries):
        save()
        with contextlib.suppress(AssertionError):
            await wait_until(seen, 0.5, what="the save to be seen")
            return
    raise AssertionError(f"no save was seen in {tries} tries")
