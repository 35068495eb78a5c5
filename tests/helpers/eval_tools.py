"""Python tools for the eval tests (``function: helpers.eval_tools:NAME`` in a config).

``meet`` proves that runs overlap: each call waits until ``group`` calls are in flight at
once (or gives up after ``seconds``); ``STATE`` keeps the peak of calls in flight. ``launch``
stands for a tool that touches the world: every real call is listed in ``LAUNCHED``, so a
test can see that a stub kept it from running.
"""

from __future__ import annotations

import asyncio
from typing import Any

STATE: dict[str, Any] = {"in_flight": 0, "peak": 0, "arrived": 0, "event": None}
LAUNCHED: list[str] = []


def reset() -> None:
    STATE.update(in_flight=0, peak=0, arrived=0, event=None)
    LAUNCHED.clear()


async def meet(group: int, seconds: float) -> str:
    """Wait until group calls are running at once.

    Args:
        group: How many calls to wait for.
        seconds: How long to wait at most.
    """
    event = STATE["event"]
    if event is None:
        event = STATE["event"] = asyncio.Event()
    STATE["in_flight"] += 1
    STATE["arrived"] += 1
    STATE["peak"] = max(STATE["peak"], STATE["in_flight"])
    if STATE["arrived"] >= group:
        event.set()
    try:
        await asyncio.wait_for(event.wait(), seconds)
        return "met"
    except TimeoutError:
        return "alone"
    finally:
        STATE["in_flight"] -= 1


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def launch(target: str) -> str:
    """Launch something (a stand-in for a tool with side effects).

    Args:
        target: What to launch.
    """
    LAUNCHED.append(target)
    return f"launched {target}"
