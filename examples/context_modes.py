"""Every context mode of the session guide, offline, with the ``echo`` provider.

Run it:  python examples/context_modes.py

The echo provider replies with how many messages it received and the last user message, so
each reply shows exactly how much of the conversation the model saw in that mode.
"""

from __future__ import annotations

import asyncio
from typing import Any

from vel_runner import Agent, ContextManager, StatelessContextManager

ECHO = {"provider": "echo", "model": "echo-1"}
QUESTIONS = ["My name is Alice", "I live in Lisbon", "I like jazz", "What is my name?"]


async def converse(title: str, agent: Agent) -> None:
    print(f"\n== {title} ({agent.context_mode}) ==")
    for question in QUESTIONS:
        answer = await agent.run({"message": question}, session_id="user-123")
        print(f"  you: {question:<20} model: {answer}")
    stored = agent.ctxmgr.get_session_context("user-123")
    print(f"  stored messages: {len(stored)}")
    record = await agent.ctxmgr.aget_session("user-123")
    if record is not None and record.summary:
        summary = " ".join(record.summary.split())
        print(f"  running summary: {summary[:70]}...")


async def main() -> None:
    modes: list[tuple[str, Any]] = [
        ("Full memory (default)", ContextManager()),
        ("Stateless (no memory)", StatelessContextManager()),
        ("Limited history: last 4 messages", ContextManager(max_history=4)),
        ("Summarized: last 2 messages + summary", ContextManager(max_history=2, summarize=True)),
    ]
    for title, context_manager in modes:
        agent = Agent(id="my-agent", model=ECHO, context_manager=context_manager)
        await converse(title, agent)

    print("\n== Streaming and non-streaming turns share a session ==")
    agent = Agent(id="my-agent", model=ECHO)
    async for event in agent.run_stream({"message": "My name is Alice"}, session_id="user-9"):
        if event["type"] == "text-delta":
            print(event["delta"], end="", flush=True)
    print()
    print(await agent.run({"message": "What is my name?"}, session_id="user-9"))

    print("\n== Session operations ==")
    agent.ctxmgr.set_session_context(
        "user-9",
        [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there!"}],
    )
    print("after set:", agent.ctxmgr.get_session_context("user-9"))
    print("inactive for 1h:", agent.ctxmgr.get_inactive_sessions(max_age_hours=1))
    print("cleared:", agent.ctxmgr.clear_session("user-9"))
    print("after clear:", agent.ctxmgr.get_session_context("user-9"))


if __name__ == "__main__":
    asyncio.run(main())
