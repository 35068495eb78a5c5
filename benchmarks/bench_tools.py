"""Tool-loop benchmarks (issue 10). Run: python benchmarks/bench_tools.py [--quick]

1. A run with one tool call (model step, tool, model step) through ``Agent.run_turn`` against
   the same loop written by hand with ``AsyncOpenAI``, on the same local OpenAI-compatible
   server (tests/helpers/fake_openai.py, in its own process), interleaved run by run. Two
   hand-written loops: ``chat.completions.create`` (what most code writes) and ``client.post``
   with the body as it is (what the provider does, skipping the SDK's request transform; see
   bench_engine.py). Goal: the agent within 1.05x of the hand-written loop.
2. One step with three parallel 200 ms tools (async, and sync ones in worker threads), on the
   offline echo provider so the model costs nothing. Goal: <= 230 ms for the step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_engine import start_fake_server  # noqa: E402

from vel_runner import Agent  # noqa: E402
from vel_runner.tools import FunctionTool  # noqa: E402

PROMPT = '/tool add {"a": 2, "b": 3}'


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def bench_one_call(base_url: str, runs: int) -> dict[str, list[float]]:
    """Seconds per run: the agent, and the hand-written loops (same tool, same schema)."""
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion

    client = AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0)
    agent = Agent(
        "bench",
        model={"provider": "openai", "model": "m", "api_key": "bench", "base_url": base_url},
        tools=[add],
    )
    tools: Any = agent.toolbox.openai_tools()

    async def by_hand(post: bool = False) -> str:
        messages: list[Any] = [{"role": "user", "content": PROMPT}]
        while True:
            if post:
                body = {"model": "m", "messages": messages, "tools": tools}
                reply = await client.post("/chat/completions", body=body, cast_to=ChatCompletion)
            else:
                reply = await client.chat.completions.create(
                    model="m", messages=messages, tools=tools
                )
            message = reply.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                result = await add(**json.loads(call.function.arguments))  # type: ignore[union-attr]
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )

    async def by_agent() -> str:
        return (await agent.run_turn(PROMPT)).output

    async def by_post() -> str:
        return await by_hand(post=True)

    runners = {"agent": by_agent, "create": by_hand, "post": by_post}
    for run in runners.values():  # same answer, and a warm-up
        for _ in range(20):
            assert await run() == "fake results: add -> 5"
    times: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners.items())
    for index in range(runs):
        for name, run in order[index % 3 :] + order[: index % 3]:  # each goes first in turn
            start = time.perf_counter()
            await run()
            times[name].append(time.perf_counter() - start)
    await agent.aclose()
    await client.close()
    return times


async def bench_parallel(rounds: int) -> dict[str, list[float]]:
    """Seconds per run of one step calling three 200 ms tools at once (then the answer)."""

    async def slow_async(n: int) -> int:
        """Sleeps 200 ms."""
        await asyncio.sleep(0.2)
        return n

    def slow_sync(n: int) -> int:
        """Sleeps 200 ms in a worker thread."""
        time.sleep(0.2)
        return n

    prompts = {
        "async": "\n".join(f'/tool slow_async {{"n": {n}}}' for n in range(3)),
        "sync": "\n".join(f'/tool slow_sync {{"n": {n}}}' for n in range(3)),
    }
    agent = Agent(
        "par",
        model={"provider": "echo", "model": "echo-1"},
        tools=[FunctionTool(slow_async), FunctionTool(slow_sync)],
    )
    times: dict[str, list[float]] = {"async": [], "sync": []}
    for _ in range(rounds):
        for kind, prompt in prompts.items():
            start = time.perf_counter()
            await agent.run_turn(prompt)
            times[kind].append(time.perf_counter() - start)
    return times


def ms(values: list[float]) -> str:
    median, mean = statistics.median(values) * 1000, statistics.fmean(values) * 1000
    return f"median {median:7.2f} ms, mean {mean:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    args = parser.parse_args()
    runs, rounds = (40, 3) if args.quick else (400, 10)
    proc, base_url = start_fake_server()
    try:
        times = asyncio.run(bench_one_call(base_url, runs))
    finally:
        proc.terminate()
        proc.wait()
    agent = statistics.median(times["agent"])
    print(f"1. one tool call, {runs} runs each, interleaved (two model calls per run)")
    print(f"   hand-written loop, create     {ms(times['create'])}")
    print(f"   hand-written loop, post       {ms(times['post'])}")
    print(f"   Agent.run_turn                {ms(times['agent'])}")
    for name in ("create", "post"):
        ratio = agent / statistics.median(times[name])
        print(f"   agent / {name:6} {ratio:.3f}x   (goal <= 1.05x)")
    parallel = asyncio.run(bench_parallel(rounds))
    print(f"2. one step with three parallel 200 ms tools, {rounds} runs (whole run, echo model)")
    for kind, values in parallel.items():
        verdict = "ok" if statistics.median(values) <= 0.230 else "over"
        print(f"   {kind:5} tools  {ms(values)}   (goal <= 230 ms: {verdict})")


if __name__ == "__main__":
    main()
