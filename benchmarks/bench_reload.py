"""Hot reload latency: from a save of agents.yaml to the new config serving turns.

A runtime watches a temporary copy of the shipped agents.yaml; each round changes one agent's
``max_history`` and measures until ``runtime.agent(...)`` returns an agent with the new value.
Two save styles: an in-place write and an editor-style atomic save (temp file + rename).
Goal: median <= 300 ms. (watchfiles yields a burst of changes once no new change came for
``step`` ms, 10 ms here, 50 by default; ``debounce`` caps how long one burst is grouped.)

    python benchmarks/bench_reload.py             # 40 saves per row
    python benchmarks/bench_reload.py --saves 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vel_runner.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (ROOT / "agents.yaml").read_text()


def with_history(n: int) -> str:
    return SHIPPED.replace("max_history: 10", f"max_history: {n}")


def save(path: Path, text: str, atomic: bool) -> None:
    if atomic:
        temp = path.with_name(f".{path.name}.swp")
        temp.write_text(text)
        os.replace(temp, path)
    else:
        path.write_text(text)


async def measure(saves: int, atomic: bool, debounce_ms: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agents.yaml"
        path.write_text(with_history(10))
        runtime = await Runtime.from_paths([path], debounce_ms=debounce_ms, close_grace=0)
        latencies = []
        async with runtime:
            await asyncio.sleep(0.3)
            for i in range(saves):
                target = 11 + i
                start = time.perf_counter()
                save(path, with_history(target), atomic)
                while runtime.agent("support").ctxmgr.max_history != target:
                    if time.perf_counter() - start > 10:
                        raise SystemExit(f"save {i} not picked up within 10 s")
                    await asyncio.sleep(0.001)
                latencies.append(time.perf_counter() - start)
                await asyncio.sleep(0.05)  # separate the saves like a person would
        return latencies


def row(label: str, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p90 = ms[int(len(ms) * 0.9) - 1]
    return f"{label:<50} {statistics.median(ms):>8.1f} {p90:>8.1f} {ms[-1]:>8.1f}   {len(ms)} saves"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=40)
    args = parser.parse_args()
    print(f"{'save -> active (ms)':<50} {'median':>8} {'p90':>8} {'max':>8}")
    for atomic in (False, True):
        style = "atomic save (rename)" if atomic else "in-place write"
        latencies = await measure(args.saves, atomic, debounce_ms=50)
        print(row(f"vel-runner (debounce 50 ms), {style}", latencies))
    print("\ngoal: median <= 300 ms")


if __name__ == "__main__":
    asyncio.run(main())
