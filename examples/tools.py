"""Agents with tools, offline: python functions and another agent as tools, on the echo
provider (a message line ``/tool NAME {json}`` makes echo call tool NAME, then it echoes the
result). Swap the model for ``{"provider": "openai", "model": "gpt-4o-mini"}`` and the same
agent decides by itself which tools to call.

Run: python examples/tools.py
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from pydantic import Field

from vel_runner import Agent, FunctionTool


async def get_weather(city: str, unit: str = "C") -> dict[str, object]:
    """The current weather in a city.

    Args:
        city: The city name, e.g. Paris.
        unit: C or F.
    """
    await asyncio.sleep(0.05)  # an HTTP call, say
    return {"city": city, "temperature": 21 if unit == "C" else 70, "unit": unit}


def convert(amount: float, rate: Annotated[float, Field(description="target per source")]) -> float:
    """Convert an amount of money with an exchange rate (sync: runs in a worker thread)."""
    return round(amount * rate, 2)


async def main() -> None:
    researcher = Agent("researcher", model={"provider": "echo", "model": "echo-1"})
    assistant = Agent(
        "assistant",
        model={"provider": "echo", "model": "echo-1"},
        tools=[get_weather, FunctionTool(convert, timeout=5), researcher],
        max_steps=4,
    )
    for spec in assistant.toolbox.specs():
        print(f"tool {spec.name}: {spec.description}")

    print("\n== two calls in one step (they run concurrently) ==")
    prompt = '/tool get_weather {"city": "Paris"}\n/tool convert {"amount": 10, "rate": 1.1}'
    print("model:", await assistant.run(prompt, session_id="demo"))

    print("\n== bad arguments are a result the model reads, not a crash ==")
    print("model:", await assistant.run('/tool convert {"amount": "ten"}', session_id="demo"))

    print("\n== another agent as a tool ==")
    print(
        "model:", await assistant.run('/tool researcher {"input": "sources?"}', session_id="demo")
    )

    print("\n== the stream of one run ==")
    async for event in assistant.run_stream('/tool get_weather {"city": "Oslo"}'):
        if event["type"].startswith("tool-"):
            print(" ", event)

    stored = await assistant.ctxmgr.aget_session_context("demo")
    print(f"\nstored messages: {len(stored)} ({', '.join(m['role'] for m in stored)})")


if __name__ == "__main__":
    asyncio.run(main())
