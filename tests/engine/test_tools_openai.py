"""The tool loop against a real OpenAI-compatible HTTP server (tests/fake_openai.py) through
the official SDK: scripted calls streamed and not, OpenAI-, Ollama- (no index) and no-id-style
deltas, parallel calls, errors, max_steps."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from helpers.fake_openai import FakeOpenAI

from vel_runner import Agent
from vel_runner.providers.tool_deltas import ToolDeltas
from vel_runner.tools import Toolbox


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def fails() -> str:
    """Always fails."""
    raise ValueError("broken")


def agent_on(fake: FakeOpenAI, model: str, **kw: Any) -> Agent:
    return Agent(
        "calc",
        model={"provider": "openai", "model": model, "base_url": fake.base_url, "api_key": "x"},
        tools=[add, fails],
        **kw,
    )


PROMPT = '/tool add {"a": 2, "b": 3}\n/tool fails {}'


@pytest.mark.parametrize("model", ["gpt-fake", "gpt-fake-noindex", "gpt-fake-noid"])
async def test_streamed_calls_in_every_delta_style(fake_openai: FakeOpenAI, model: str) -> None:
    agent = agent_on(fake_openai, model)
    chunks = [e async for e in agent.run_stream(PROMPT, session_id=f"s-{model}")]
    starts = [e for e in chunks if e["type"] == "tool-input-start"]
    assert [e["toolName"] for e in starts] == ["add", "fails"]
    assert len({e["toolCallId"] for e in starts}) == 2
    available = [e for e in chunks if e["type"] == "tool-input-available"]
    assert [e["input"] for e in available] == [{"a": 2, "b": 3}, {}]
    outputs = [e for e in chunks if e["type"].startswith("tool-output")]
    assert outputs[0]["output"] == 5
    assert outputs[1]["type"] == "tool-output-error"
    text = "".join(e["delta"] for e in chunks if e["type"] == "text-delta")
    assert text == 'fake results: add -> 5; fails -> {"error": "ValueError: broken"}'
    stored = await agent.ctxmgr.aget_session_context(f"s-{model}")
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "tool", "assistant"]
    ids = [c["id"] for c in stored[1]["tool_calls"]]
    assert [m["tool_call_id"] for m in stored[2:4]] == ids
    # the second request carried the calls and their results, as OpenAI wants them
    second = fake_openai.requests[-1]["messages"]
    assert second[-3]["tool_calls"][0]["function"] == {
        "name": "add",
        "arguments": '{"a": 2, "b": 3}',
    }
    await agent.aclose()


async def test_whole_reply_with_tool_calls(fake_openai: FakeOpenAI) -> None:
    agent = agent_on(fake_openai, "gpt-fake")
    result = await agent.run_turn(PROMPT, session_id="whole")
    assert result.output.startswith("fake results: add -> 5;")
    request = fake_openai.requests[-2]
    assert [t["function"]["name"] for t in request["tools"]] == ["add", "fails"]
    assert request["tools"][0]["function"]["strict"] is True
    assert "stream" not in request
    await agent.aclose()


async def test_max_steps_forces_an_answer(fake_openai: FakeOpenAI) -> None:
    agent = agent_on(fake_openai, "gpt-always-tool", max_steps=2)
    result = await agent.run_turn("go", session_id="loop")
    assert result.output.startswith("fake results: add ->")
    requests = list(fake_openai.requests)[-2:]
    assert [r.get("tool_choice") for r in requests] == [None, "none"]
    await agent.aclose()


async def test_cancelling_a_streamed_turn_mid_tool_stores_nothing(fake_openai: FakeOpenAI) -> None:
    entered = asyncio.Event()

    async def hang() -> str:
        """Never returns."""
        entered.set()
        await asyncio.sleep(60)
        return "no"

    agent = agent_on(fake_openai, "m")
    agent.toolbox = Toolbox([hang])

    async def consume() -> None:
        async for _ in agent.run_stream("/tool hang {}", session_id="h"):
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(entered.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await agent.ctxmgr.aget_session_context("h") == []
    await agent.aclose()


def test_delta_resolution_styles() -> None:
    openai_style = ToolDeltas()
    first = openai_style.add({"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}})
    more = openai_style.add({"index": 0, "function": {"arguments": "{}"}})
    other = openai_style.add({"index": 1, "function": {"name": "g", "arguments": "{"}})
    assert (first.id, first.name, more.id, more.name) == ("a", "f", "a", None)
    assert other.id.startswith("call_") and other.id != "a" and other.name == "g"
    ollama = ToolDeltas()
    one = ollama.add({"id": "x", "function": {"name": "f", "arguments": "{}"}})
    two = ollama.add({"function": {"name": "f", "arguments": "{}"}})
    tail = ollama.add({"function": {"arguments": "}"}})
    assert one.id == "x" and two.id not in ("x", None) and tail.id == two.id
    duplicate = ToolDeltas()
    ids = [duplicate.add({"id": "same", "index": i, "function": {"name": "f"}}).id for i in (0, 1)]
    assert ids[0] == "same" and ids[1] != "same"
    assert json.dumps(ids)
