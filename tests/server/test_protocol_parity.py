"""Every protocol tells the same turn the same way: one tool-calling conversation (a model that
writes a preamble beside its tool call) through every route, streamed and not, gives the same
content and stores the same session; errors are classified once; a mixed server + client tool
step continues; a disconnected stream lets its session go at once."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from helpers.scripted import Say, ScriptedProvider
from helpers.server import served_agents, serving, sse_json, stored_messages
from openai import AsyncOpenAI

from vel_runner import Agent
from vel_runner.demo_tools import calculate
from vel_runner.errors import (
    ProviderError,
    SessionConflictError,
    StoreUnavailableError,
    ToolSourceUnavailableError,
    TurnCancelledError,
    VelError,
)
from vel_runner.observe import hooks
from vel_runner.public_errors import public_text
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

QUESTION = "What is 2 + 3?"
PREAMBLE, ANSWER = "Let me add. ", "The sum is 5."


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def adder(agent_id: str) -> Agent:
    """An agent whose model writes a preamble beside its tool call, then answers."""
    provider = ScriptedProvider(
        Say(text=["Let me ", "add. "], calls=[("add", {"a": 2, "b": 3})]),
        Say(text=["The sum ", "is 5."]),
    )
    return Agent(agent_id, model={"provider": "echo", "model": "m"}, provider=provider, tools=[add])


ROUTES = ("runs", "runs-sse", "chat", "chat-stream", "responses", "responses-stream", "usechat")


async def via_runs(http: httpx.AsyncClient, base: str, agent: str, session: str) -> list[str]:
    body = {"message": QUESTION, "session_id": session}
    answer = (await http.post(f"/v1/agents/{agent}/runs", json=body)).json()
    return [answer["output"]]


async def via_runs_sse(http: httpx.AsyncClient, base: str, agent: str, session: str) -> list[str]:
    body = {"message": QUESTION, "session_id": session, "stream": True}
    events = sse_json((await http.post(f"/v1/agents/{agent}/runs", json=body)).text)
    assert events[-1]["type"] == "finish" and events[-1]["finishReason"] == "stop"
    return ["".join(e["delta"] for e in events if e["type"] == "text-delta")]


async def via_usechat(http: httpx.AsyncClient, base: str, agent: str, session: str) -> list[str]:
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": QUESTION}]}
    body = {"id": session, "messages": [message], "trigger": "submit-message"}
    events = sse_json((await http.post(f"/v1/agents/{agent}/chat", json=body)).text)
    return ["".join(e["delta"] for e in events if e["type"] == "text-delta")]


async def via_chat(http: httpx.AsyncClient, base: str, agent: str, session: str) -> list[str]:
    async with openai_client(base) as client:
        completion = await client.chat.completions.create(
            model=agent,
            messages=[{"role": "user", "content": QUESTION}],
            extra_headers={"X-Session-Id": session},
        )
    return [completion.choices[0].message.content or ""]


async def via_chat_stream(
    http: httpx.AsyncClient, base: str, agent: str, session: str
) -> list[str]:
    parts: list[str] = []
    async with openai_client(base) as client:
        stream = await client.chat.completions.create(
            model=agent,
            messages=[{"role": "user", "content": QUESTION}],
            extra_headers={"X-Session-Id": session},
            stream=True,
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
    return ["".join(parts)]


async def via_responses(http: httpx.AsyncClient, base: str, agent: str, session: str) -> list[str]:
    async with openai_client(base) as client:
        response = await client.responses.create(model=agent, input=QUESTION, conversation=session)
        stored = await client.responses.retrieve(response.id)
    return [response.output_text, stored.output_text]


async def via_responses_stream(
    http: httpx.AsyncClient, base: str, agent: str, session: str
) -> list[str]:
    deltas: list[str] = []
    completed = ""
    async with openai_client(base) as client:
        stream = await client.responses.create(
            model=agent, input=QUESTION, conversation=session, stream=True
        )
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
            elif event.type == "response.completed":
                completed = event.response.output_text
    return ["".join(deltas), completed]


def openai_client(base: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)


VIA: dict[str, Callable[..., Any]] = {
    "runs": via_runs,
    "runs-sse": via_runs_sse,
    "chat": via_chat,
    "chat-stream": via_chat_stream,
    "responses": via_responses,
    "responses-stream": via_responses_stream,
    "usechat": via_usechat,
}


def shape(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored messages without their ids (each route's turn has its own run id)."""
    return [{k: v for k, v in m.items() if k != "id"} for m in messages]


async def test_one_conversation_through_every_route_is_told_the_same_way() -> None:
    agents = {route: adder(f"adder-{route}") for route in ROUTES}
    contents: dict[str, list[str]] = {}
    sessions: dict[str, list[dict[str, Any]]] = {}
    async with served_agents(*agents.values()) as base, httpx.AsyncClient(base_url=base) as http:
        for route, agent in agents.items():
            contents[route] = await VIA[route](http, base, agent.id, f"parity-{route}")
            sessions[route] = await stored_messages(base, agent.id, f"parity-{route}")
    # OpenAI's contract, on every route: the concatenated deltas equal the message
    for route in ROUTES:
        assert contents[route] == [PREAMBLE + ANSWER] * len(contents[route]), route
    expected = [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": PREAMBLE,
            "tool_calls": [
                {
                    "id": "call_0_0",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0_0", "content": "5"},
        {"role": "assistant", "content": ANSWER},
    ]
    for route in ROUTES:
        assert shape(sessions[route]) == expected, route
    # and the model saw the same second request everywhere
    seconds = [a.provider.requests[1] for a in agents.values()]  # type: ignore[attr-defined]
    assert all(shape(s) == shape(seconds[0]) for s in seconds)


async def test_a_step_calling_a_server_tool_and_a_client_tool_continues() -> None:
    agent = Agent("assistant", model={"provider": "echo", "model": "echo-1"}, tools=[calculate])
    lookup = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    headers = {"X-Session-Id": "mix1"}
    ask = '/tool calculate {"expression": "1+1"}\n/tool lookup {}'
    question = {"role": "user", "content": ask}
    async with served_agents(agent) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post(
            "/v1/chat/completions",
            json={
                "model": "assistant",
                "messages": [{"role": "user", "content": ask}],
                "tools": [lookup],
            },
            headers=headers,
        )
        assert first.status_code == 200, first.text
        choice = first.json()["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        (call,) = choice["message"]["tool_calls"]  # only the client's tool comes back
        assert call["function"]["name"] == "lookup"
        result = {"role": "tool", "tool_call_id": call["id"], "content": '{"found": true}'}
        second = await http.post(
            "/v1/chat/completions",
            json={
                "model": "assistant",
                "messages": [question, choice["message"], result],
                "tools": [lookup],
            },
            headers=headers,
        )
        assert second.status_code == 200, second.text
        answer = second.json()["choices"][0]["message"]["content"]
        assert answer == 'echo (4 messages): calculate -> 2; lookup -> {"found": true}'
        stored = await stored_messages(base, "assistant", "mix1")
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "tool", "assistant"]


CHAT_HI = {"model": "held", "messages": [{"role": "user", "content": "hi"}]}


def stream_scope(path: str, body: bytes) -> dict[str, Any]:
    """An HTTP request's ASGI scope, as uvicorn makes it (ASGI spec 2.3: the app listens for
    the client going away)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


@pytest.mark.parametrize(
    ("path", "request_body"),
    [
        ("/v1/responses", {"model": "held", "input": "hi", "conversation": "gone"}),
        ("/v1/agents/held/runs", {"message": "hi", "session_id": "gone"}),
        (
            "/v1/chat/completions",
            {"model": "held", "messages": [{"role": "user", "content": "hi"}]},
        ),
    ],
    ids=["responses", "runs", "chat"],
)
async def test_a_client_gone_mid_stream_lets_its_session_go_at_once(
    path: str, request_body: dict[str, Any]
) -> None:
    """The client stops reading (its socket is full), then goes away: the stream is closed
    there and then, so the turn stores what it sent and frees its session, without waiting
    for the garbage collector (switched off here)."""
    provider = ScriptedProvider(Say(text=["one ", "two ", "three"]), Say(text=["again"]))
    agent = Agent("held", model={"provider": "echo", "model": "m"}, provider=provider)
    app = create_app(Runtime.from_agents([agent]))
    body = json.dumps({**request_body, "stream": True}).encode()
    headers = {"X-Session-Id": "gone"}
    stuck, gone = asyncio.Event(), asyncio.Event()
    received: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not received:
            received.append({})
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if b"two" in message.get("body", b""):
            stuck.set()
            await asyncio.Event().wait()  # the socket never drains again

    scope = stream_scope(path, body)
    scope["headers"].append((b"x-session-id", b"gone"))
    gc.disable()
    try:
        async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
            request = asyncio.create_task(app(scope, receive, send))
            await asyncio.wait_for(stuck.wait(), 5)
            gone.set()
            await asyncio.wait_for(request, 5)
            stored = await agent.ctxmgr.aget_session_context("gone")
            assert [m["content"] for m in stored] == ["hi", "one two "]
            assert stored[-1]["metadata"] == {"interrupted": True}
            # the session is free: the next turn runs at once and sees the kept part
            again = {"message": "next", "session_id": "gone"}
            answer = await asyncio.wait_for(
                http.post("/v1/agents/held/runs", json=again, headers=headers), 5
            )
            assert answer.json()["output"] == "again"
            assert len(provider.requests[1]) == 3
    finally:
        gc.enable()


class Failing:
    """A provider that fails with ``error`` (whatever kind the test chooses)."""

    type = "failing"

    def __init__(self, error: VelError) -> None:
        self.error = error

    async def complete(self, messages: Any, *, model: str, settings: Any) -> Any:
        raise self.error

    async def stream(self, messages: Any, *, model: str, settings: Any) -> AsyncIterator[Any]:
        raise self.error
        yield  # a generator

    async def aclose(self) -> None:
        return None


class Outcomes:
    """A hooks observer that keeps each finished turn's outcome."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def started(self, step: Any) -> None:
        return None

    def ended(self, step: Any) -> None:
        if step.kind == "turn":
            self.seen.append(step.outcome)


@pytest.mark.parametrize(
    ("error", "status", "error_type", "outcome"),
    [
        (ProviderError("upstream down", status=500), 502, "provider_error", "provider_error"),
        (StoreUnavailableError("database down"), 503, "store_unavailable", "store_error"),
        (ToolSourceUnavailableError("mcp down"), 503, "tool_unavailable", "error"),
        (SessionConflictError("changed under the turn"), 409, "conflict", "conflict"),
        (TurnCancelledError("cancelled"), 502, "provider_error", "cancelled"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, VelError) else None,
)
async def test_an_error_is_classified_the_same_way_on_every_route(
    error: VelError, status: int, error_type: str, outcome: str
) -> None:
    agent = Agent("failing", model={"provider": "echo", "model": "m"}, provider=Failing(error))
    outcomes = Outcomes()
    remove = hooks.add_observer(outcomes)
    run = {"message": "hi"}
    chat = {"model": "failing", "messages": [{"role": "user", "content": "hi"}]}
    respond = {"model": "failing", "input": "hi"}
    try:
        async with served_agents(agent) as base, httpx.AsyncClient(base_url=base) as http:

            async def streamed(path: str, body: dict[str, Any]) -> list[Any]:
                return sse_json((await http.post(path, json={**body, "stream": True})).text)

            runs = await http.post("/v1/agents/failing/runs", json=run)
            completions = await http.post("/v1/chat/completions", json=chat)
            responses = await http.post("/v1/responses", json=respond)
            ui = await streamed("/v1/agents/failing/runs", run)
            chunks = await streamed("/v1/chat/completions", chat)
            events = await streamed("/v1/responses", respond)
    finally:
        remove()
    # the same status, type and words everywhere: a failure of ours in words for an end user
    # (with the request id), a conflict as it is (the client's to retry)
    words = f"{public_text(error)} (request id " if status >= 500 else str(error)
    assert (runs.status_code, runs.json()["error"]["type"]) == (status, error_type)
    assert (completions.status_code, completions.json()["error"]["type"]) == (status, error_type)
    assert responses.status_code == status
    said = [
        runs.json()["error"]["message"],
        completions.json()["error"]["message"],
        responses.json()["error"]["message"],
        *(e["errorText"] for e in ui if e["type"] == "error"),
        chunks[-1]["error"]["message"],  # the stream's last frame, before [DONE]
        events[-1]["response"]["error"]["message"],
    ]
    assert chunks[-1]["error"]["type"] == error_type and events[-1]["type"] == "response.failed"
    assert len(said) == 6 and all(text.startswith(words) for text in said), said
    assert outcomes.seen == [outcome] * 6


async def test_an_unexpected_failure_mid_stream_ends_like_any_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug (not a VelError) mid-stream: the client still gets its protocol's failure ending,
    the server log the traceback, and nothing is stored."""

    class Broken(ScriptedProvider):
        async def stream(self, messages: Any, *, model: str, settings: Any) -> AsyncIterator[Any]:
            async for chunk in super().stream(messages, model=model, settings=settings):
                yield chunk
                raise RuntimeError("a bug")

    agent = Agent("buggy", model={"provider": "echo", "model": "m"}, provider=Broken(Say(["hi "])))
    body = {"message": "hi", "session_id": "bug", "stream": True}
    async with served_agents(agent) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.post("/v1/agents/buggy/runs", json=body)
        stored = await stored_messages(base, "buggy", "bug")
    events = sse_json(response.text)
    assert [e["type"] for e in events[-4:]] == ["text-end", "error", "finish-step", "finish"]
    assert events[-3]["errorText"].startswith("the server failed to answer (request id ")
    assert events[-1]["finishReason"] == "error"
    assert response.text.endswith("data: [DONE]\n\n")
    assert stored == []
    assert "RuntimeError: a bug" in caplog.text
