"""Blocking work in a thread of its own, outside asyncio's default executor.

The default executor is small (``min(32, cpus + 4)`` threads) and shared by whatever calls
``asyncio.to_thread`` or resolves a host name. Work that must not wait behind others there
(the config reload: a save of agents.yaml has to apply even while something else holds every
thread) gets its own daemon thread here; a daemon, so that it never keeps the process from
exiting. The helpers that hand a thread's outcome back to the event loop are shared with the
tools' worker threads (:mod:`vel_runner.tools.threads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
#: What a call in a thread ended with: ``(True, value)`` or ``(False, exception)``.
Outcome = tuple[bool, Any]


def outcome_of(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Call ``func``; its value or whatever it raised (``SystemExit`` included: a thread has
    no one to exit for, the waiting coroutine decides)."""
    try:
        return True, func(*args, **kwargs)
    except BaseException as exc:
        return False, exc


def settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    """On the future's loop: its result or exception (unless its waiter gave up on it)."""
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def call_on(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """``callback(*args)`` on ``loop``, from any thread (nothing if the loop has closed)."""
    with contextlib.suppress(RuntimeError):  # closed meanwhile: nobody waits any more
        loop.call_soon_threadsafe(callback, *args)


async def in_own_thread(func: Callable[..., T], *args: Any, name: str = "vel-runner") -> T:
    """``func(*args)`` in a new daemon thread named ``name``; cancelling the wait leaves the
    thread to finish on its own."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        call_on(loop, settle, future, outcome_of(func, *args))

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future


__all__ = ["Outcome", "call_on", "in_own_thread", "outcome_of", "settle"]
