"""Tools over the wire: the SSE route's tool events (checked against the ``ai`` package's own
``uiMessageChunkSchema``, v5/v6/v7, by node), and ``/v1/chat/completions`` with the agent's
tools run server side and the client's own tools passed through."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers.fake_openai import FakeOpenAI
from helpers.node import SCHEMAS, node_harness
from helpers.server import echo_agent, served_agents, sse_json
from openai import AsyncOpenAI

from vel_runner import Agent

JS = SCHEMAS
CLIENT_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "The client's own tool.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def fails() -> str:
    """Always fails."""
    raise ValueError("broken")


SLOW_CANCELLED = asyncio.Event()


async def slow() -> str:
    """Takes long (and says when it was cancelled)."""
    try:
        await asyncio.sleep(10)  # a tool that never finishes in time
    except asyncio.CancelledError:
        SLOW_CANCELLED.set()
        raise
    return "late"


@pytest.fixture
async def server(fake_openai: FakeOpenAI) -> AsyncIterator[str]:
    gpt = Agent(
        "gpt",
        model={
            "provider": "openai",
            "model": "fake-model",
            "api_key": "x",
            "base_url": fake_openai.base_url,
        },
        tools=[add, fails],
    )
    async with served_agents(echo_agent("echo", tools=[add, fails, slow]), gpt) as url:
        yield url


async def stream_run(url: str, agent: str, message: str, sid: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        body = {"message": message, "session_id": sid, "stream": True}
        response = await http.post(f"/v1/agents/{agent}/runs", json=body)
        assert response.status_code == 200
        return sse_json(response.text)


def validate_with_ai_sdk(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Node's verdict on ``chunks`` for each pinned ``ai`` version."""
    node_harness(JS)
    result = subprocess.run(
        ["node", "validate.mjs"],
        input=json.dumps(chunks), capture_output=True, text=True, cwd=JS, timeout=60,
    )  # fmt: skip
    report: dict[str, Any] = json.loads(result.stdout)
    assert result.returncode == 0, json.dumps(report, indent=1)
    return report


@pytest.mark.parametrize("agent", ["echo", "gpt"])
async def test_sse_tool_events_validate_against_every_ai_sdk_version(
    server: str, agent: str
) -> None:
    chunks = await stream_run(server, agent, '/tool add {"a": 2, "b": 3}\n/tool fails {}', "s")
    kinds = [c["type"] for c in chunks]
    for needed in (
        "tool-input-start",
        "tool-input-delta",
        "tool-input-available",
        "tool-output-available",
        "tool-output-error",
    ):
        assert needed in kinds
    assert kinds.count("start-step") == kinds.count("finish-step") == 2
    report = validate_with_ai_sdk(chunks)
    assert sorted(report) == ["ai5", "ai6", "ai7"]
    assert all(entry["exported"] and not entry["errors"] for entry in report.values())
    assert all(entry["typesDeclared"] for entry in report.values())  # the strict key check ran


async def test_the_validator_catches_a_bad_chunk(server: str) -> None:
    chunks = await stream_run(server, "echo", '/tool add {"a": 1, "b": 1}', "bad")
    broken = [
        *chunks,
        {"type": "tool-output-available", "output": 1},  # no toolCallId
        {"type": "tool-input-start", "toolCallId": "x", "toolName": "t", "extra": 1},
    ]
    node_harness(JS)
    result = subprocess.run(
        ["node", "validate.mjs"],
        input=json.dumps(broken), capture_output=True, text=True, cwd=JS, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    report = json.loads(result.stdout)
    for entry in report.values():
        assert [e["index"] for e in entry["errors"]] == [len(chunks), len(chunks) + 1]
        assert entry["errors"][1]["error"] == "keys not declared: extra"


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_completions_runs_agent_tools_server_side(server: str, stream: bool) -> None:
    async with AsyncOpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0) as client:
        messages: Any = [{"role": "user", "content": '/tool add {"a": 20, "b": 22}'}]
        if stream:
            chunks = [
                c
                async for c in await client.chat.completions.create(
                    model="gpt", messages=messages, stream=True
                )
            ]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
            assert chunks[-1].choices[0].finish_reason == "stop"
        else:
            reply = await client.chat.completions.create(model="gpt", messages=messages)
            text = reply.choices[0].message.content or ""
            assert reply.choices[0].finish_reason == "stop"
    assert text == "fake results: add -> 42"


@pytest.mark.parametrize("stream", [False, True])
async def test_client_tools_come_back_as_tool_calls_and_results_continue(
    server: str, stream: bool
) -> None:
    sid = f"client-tools-{stream}"
    headers = {"X-Session-Id": sid}
    async with AsyncOpenAI(base_url=f"{server}/v1", api_key="x", max_retries=0) as client:
        messages: Any = [{"role": "user", "content": '/tool lookup {"q": "vel"}'}]
        if stream:
            chunks = [
                c
                async for c in await client.chat.completions.create(
                    model="gpt", messages=messages, tools=[CLIENT_TOOL], stream=True,
                    extra_headers=headers,
                )
            ]  # fmt: skip
            deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()]
            call_id, name = deltas[0].id, deltas[0].function.name
            arguments = "".join(d.function.arguments or "" for d in deltas)
            assert chunks[-1].choices[0].finish_reason == "tool_calls"
        else:
            reply = await client.chat.completions.create(
                model="gpt", messages=messages, tools=[CLIENT_TOOL], extra_headers=headers
            )
            assert reply.choices[0].finish_reason == "tool_calls"
            call = reply.choices[0].message.tool_calls[0]
            call_id, name, arguments = call.id, call.function.name, call.function.arguments
        assert (name, json.loads(arguments)) == ("lookup", {"q": "vel"})
        follow_up: Any = [
            *messages,
            {"role": "assistant", "tool_calls": [{"id": call_id, "type": "function",
             "function": {"name": name, "arguments": arguments}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "vel is a runner"},
        ]  # fmt: skip
        reply = await client.chat.completions.create(
            model="gpt", messages=follow_up, tools=[CLIENT_TOOL], extra_headers=headers
        )
        assert reply.choices[0].message.content == "fake results: lookup -> vel is a runner"
        # results for a call the session does not await: 422, nothing stored
        with pytest.raises(Exception) as caught:
            await client.chat.completions.create(model="gpt", messages=follow_up,
                                                 extra_headers=headers)  # fmt: skip
        assert getattr(caught.value, "status_code", None) == 422
    async with httpx.AsyncClient(base_url=server) as http:
        stored = (await http.get(f"/v1/agents/gpt/sessions/{sid}")).json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]


async def test_a_streamed_run_cancelled_by_the_client_stores_nothing(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        body = {"message": "/tool slow {}", "session_id": "gone", "stream": True}
        async with http.stream("POST", "/v1/agents/echo/runs", json=body) as response:
            async for line in response.aiter_lines():
                if "tool-input-available" in line:
                    break  # the client goes away mid-run
        await asyncio.wait_for(SLOW_CANCELLED.wait(), 5)  # the run stopped, its tool with it
        found = await http.get("/v1/agents/echo/sessions/gone")
        assert found.status_code == 404 or found.json()["messages"] == []


async def test_bad_tool_input_on_chat_completions_is_422(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        results_without_session = {
            "model": "gpt",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_x", "content": "42"},
            ],
        }
        response = await http.post("/v1/chat/completions", json=results_without_session)
        assert response.status_code == 422
        assert "give a session_id" in response.json()["error"]["message"]
        nameless = {"type": "function", "function": {"description": "no name"}}
        bad_tools = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
        bad_tools["tools"] = [nameless]
        response = await http.post("/v1/chat/completions", json=bad_tools)
        assert response.status_code == 422
        assert "tools[0].function.name" in response.json()["error"]["message"]
