"""The exit guard: what a store left open does when ``asyncio.run`` ends."""

from __future__ import annotations

import asyncio

from vel_runner.storage.exit_guard import ExitGuard


def test_the_guard_runs_its_callback_when_the_loop_ends_and_not_after_disarm() -> None:
    calls: list[str] = []

    async def closed() -> None:
        await asyncio.sleep(0)  # an async close that awaits, as a store's does
        calls.append("closed")

    async def left_open() -> None:
        ExitGuard(closed).arm()

    async def closed_first() -> None:
        guard = ExitGuard(closed)
        guard.arm()
        guard.arm()  # once per loop
        guard.disarm()
        await asyncio.sleep(0)

    asyncio.run(left_open())
    assert calls == ["closed"]
    asyncio.run(closed_first())
    assert calls == ["closed"]


def test_a_guard_re_arms_in_a_new_loop() -> None:
    calls: list[int] = []

    async def closed() -> None:
        calls.append(len(calls))

    guard = ExitGuard(closed)

    async def main() -> None:
        guard.arm()

    asyncio.run(main())
    asyncio.run(main())
    assert calls == [0, 1]
