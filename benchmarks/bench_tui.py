"""Benchmark of ``vel-runner monitor`` with 1,000 and 10,000 sessions (headless Textual).

Measures, against a real server (uvicorn in a background thread) holding N real sessions:

- first render: from starting the app to every session's row on screen;
- refresh: one full refresh cycle (fetch every session page, parse, diff, update the table)
  while 10 sessions change between refreshes — the in-place diff the dashboard uses, next
  to a naive clear-and-refill of the table for comparison;
- stall: how long the UI's event loop was blocked during those refreshes (what a person
  would see as a frozen screen), median and worst. Every few refreshes CPython runs a full
  garbage collection that walks the whole heap; each size runs twice, as ``vel-runner
  monitor`` does (``freeze_heap``: the heap alive after the first listing is frozen out of
  later collections) and without it, to show what that buys.

Run: ``python benchmarks/bench_tui.py`` (``--sizes 1000,10000 --refreshes 30``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.net import free_port

from vel_runner import Agent
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app
from vel_runner.tui.app import MonitorApp
from vel_runner.tui.client import ApiClient
from vel_runner.tui.main_screen import MainScreen
from vel_runner.tui.sessions_table import SessionsTable

CHANGED_PER_REFRESH = 10


def serve_sessions(port: int, size: int, ready: Any) -> None:
    """Child process: four echo agents, ``size`` sessions made with ``agent.run``, served on
    ``port`` until terminated (a separate process, as in production: no shared GIL)."""

    async def main() -> None:
        agents = [Agent(f"agent-{i}", model={"provider": "echo", "model": "e"}) for i in range(4)]
        for start in range(0, size, 500):
            await asyncio.gather(
                *(
                    agents[n % 4].run({"message": "hi"}, session_id=session_id(n))
                    for n in range(start, min(size, start + 500))
                )
            )
        app = create_app(Runtime.from_agents(agents))
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        ready.set()
        await task

    asyncio.run(main())


def session_id(n: int) -> str:
    return f"session-{n:05d}"


async def new_turns(url: str, first: int, count: int) -> None:
    """``count`` real turns through the server's HTTP API (sessions ``first``…)."""
    async with httpx.AsyncClient(base_url=url) as http:
        for n in range(first, first + count):
            body = {"message": "again", "session_id": session_id(n)}
            response = await http.post(f"/v1/agents/agent-{n % 4}/runs", json=body)
            response.raise_for_status()


async def longest_block(during: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Run ``during`` while measuring the longest the loop was late for a 5 ms tick."""
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            worst = max(worst, now - last - 0.005)
            last = now

    task = asyncio.create_task(ticker())
    try:
        result = await during()
    finally:
        done = True
        await task
    return worst, result


def naive_refill(table: SessionsTable, screen: MainScreen) -> None:
    """The approach the dashboard avoids: throw every row away and add them all again."""
    from vel_runner.tui.rows import cells

    table.clear()
    for key, session in screen.live.visible().items():
        table.add_row(*cells(session, table.clock), key=key)


async def measure(size: int, refreshes: int, freeze: bool) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=serve_sessions, args=(port, size, ready), daemon=True)
    child.start()
    try:
        if not await asyncio.to_thread(ready.wait, 300):
            raise RuntimeError("the server did not start")
        return await _measure(url, size, refreshes, freeze)
    finally:
        child.terminate()
        child.join(10)
        gc.unfreeze()  # the next run starts from an ordinary heap
        gc.collect()


async def _measure(url: str, size: int, refreshes: int, freeze: bool) -> dict[str, float]:
    result: dict[str, float] = {}
    app = MonitorApp(ApiClient(url), refresh=3600, live_events=False, freeze_heap=freeze)
    started = time.perf_counter()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        while screen.table.row_count < size:
            await asyncio.sleep(0.005)
        await pilot.pause()
        result["first_render"] = time.perf_counter() - started

        diff_times, fill_times, stalls = [], [], []
        for round_ in range(refreshes):
            await new_turns(url, round_ * CHANGED_PER_REFRESH, CHANGED_PER_REFRESH)
            t0 = time.perf_counter()
            stall, _ = await longest_block(screen.refresh_now)
            await pilot.pause()
            diff_times.append(time.perf_counter() - t0)
            stalls.append(stall)
            t0 = time.perf_counter()
            naive_refill(screen.table, screen)
            await pilot.pause()
            fill_times.append(time.perf_counter() - t0)
            screen.table.sort_by(screen.table.sort_column, reverse=False)
        rows = screen.table.row_count
        assert rows == size, f"{rows} rows on screen, expected {size}"
    result["refresh"] = statistics.median(diff_times)
    result["refill"] = statistics.median(fill_times)
    result["stall"] = statistics.median(stalls)
    result["worst"] = max(stalls)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--refreshes", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    runs = [(size, freeze) for size in sizes for freeze in (True, False)]
    results = {run: asyncio.run(measure(run[0], args.refreshes, run[1])) for run in runs}
    base = results[(sizes[0], True)]
    print(f"\nvel-runner monitor, headless, {args.refreshes} refreshes per row (medians)\n")
    header = (
        f"{'sessions':>9} | {'heap':>6} | {'first render':>12} | {'refresh (diff)':>14} | "
        f"{'refill (naive)':>14} | {'refill/diff':>11} | {'stall p50':>9} | {'stall max':>9} | "
        f"{'vs ' + str(sizes[0]):>9}"
    )
    print(header)
    print("-" * len(header))
    for (size, freeze), r in results.items():
        print(
            f"{size:>9,} | {'frozen' if freeze else 'plain':>6} | "
            f"{r['first_render'] * 1000:>10.0f}ms | {r['refresh'] * 1000:>12.1f}ms | "
            f"{r['refill'] * 1000:>12.1f}ms | {r['refill'] / r['refresh']:>10.1f}x | "
            f"{r['stall'] * 1000:>7.1f}ms | {r['worst'] * 1000:>7.1f}ms | "
            f"{r['refresh'] / base['refresh']:>8.1f}x"
        )


if __name__ == "__main__":
    main()
