"""SIGTERM and SIGINT around the parts of ``vel-runner serve`` that uvicorn does not cover:
starting the runtime (an MCP server may take its whole ``connect_timeout`` to start) and
closing it. The default action of SIGTERM ends the process on the spot, before it stops the
MCP servers it started, which are then left running (each in its own process group)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def on_stop_signals(callback: Callable[[], None]) -> Iterator[None]:
    """Run ``callback`` on SIGTERM or SIGINT inside the block instead of the default action
    (outside the main thread, or where the loop cannot, nothing changes)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def start_unless_stopped(start: Callable[[], Awaitable[object]]) -> bool:
    """Await ``start()``; a stop signal meanwhile cancels it. ``False`` when it was stopped
    (the caller then closes what was started and exits cleanly)."""
    task = asyncio.current_task()
    assert task is not None
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        task.cancel()

    try:
        with on_stop_signals(stop):
            await start()
        if stopped:  # the signal came as the start ended: take its cancellation here
            await asyncio.sleep(0)
    except asyncio.CancelledError:
        if not stopped:
            raise
        task.uncancel()
        return False
    return True


async def close_despite_signals(close: Callable[[], Awaitable[object]]) -> None:
    """Await ``close()`` with stop signals ignored: a second SIGTERM (a supervisor's) must
    not end the process half way through stopping its MCP servers."""
    with on_stop_signals(lambda: None):
        await close()


__all__ = ["close_despite_signals", "on_stop_signals", "start_unless_stopped"]
