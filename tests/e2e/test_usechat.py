"""``useChat`` with its default transport, unchanged: the ``ai`` package's ``AbstractChat`` and
``DefaultChatTransport`` (tests/js_clients/usechat.mjs) against a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers.node import run_node
from helpers.server import echo_agent, served_agents, sse_json, stored_messages, upstream_agent

from vel_runner import Agent
from vel_runner.errors import ProviderError
from vel_runner.providers.base import Chunk
from vel_runner.providers.echo import EchoProvider


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def fail() -> str:
    """Always fails."""
    raise RuntimeError("it broke")


class FailOnce(EchoProvider):
    """The echo provider, except that a question saying "fail once" fails the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: set[str] = set()

    async def stream(self, messages: Any, *, model: str, settings: Any) -> AsyncIterator[Chunk]:
        asked = str(messages[-1].get("content"))
        if "fail once" in asked and asked not in self.failed:
            self.failed.add(asked)
            raise ProviderError("the fake provider at http://10.9.9.9/v1 failed", status=500)
        async for chunk in super().stream(messages, model=model, settings=settings):
            yield chunk


@pytest.fixture
async def server(fake_openai) -> AsyncIterator[str]:
    broken = upstream_agent("broken", fake_openai.base_url, "status-500", max_retries=0)
    slow = Agent("slow", model={"provider": "echo", "model": "echo-1", "delay": 0.15})
    tools = echo_agent("tools", tools=[add, fail])
    flaky = Agent("flaky", model={"provider": "echo", "model": "echo-1"}, provider=FailOnce())
    async with served_agents(echo_agent("assistant"), slow, broken, tools, flaky) as url:
        yield url


async def test_two_turns_then_regenerate(server: str) -> None:
    result = await run_node("usechat.mjs", server, "turns")
    two = result["twoTurns"]
    assert two["status"] == "ready" and two["error"] is None
    assert [m["text"] for m in two["messages"]] == [
        "My name is Alice",
        "echo (1 messages): My name is Alice",
        "What is my name?",
        "echo (3 messages): What is my name?",  # the server kept the history
    ]
    assert two["finishReasons"] == ["stop", "stop"]
    again = result["regenerated"]
    assert [m["text"] for m in again["messages"]] == [m["text"] for m in two["messages"]]
    assert again["messages"][3]["id"] != two["messages"][3]["id"]  # a new answer replaced it
    messages = await stored_messages(server, "assistant", "chat-turns")
    # the server holds what the client shows, under the same ids
    assert [(m["id"], m["content"]) for m in messages] == [
        (m["id"], m["text"]) for m in again["messages"]
    ]


async def test_stop_keeps_the_partial_answer_on_both_sides(server: str) -> None:
    result = await run_node("usechat.mjs", server, "stop")
    stopped = result["stopped"]["messages"]
    assert stopped[-1]["role"] == "assistant" and result["stopped"]["aborts"] == [True]
    shown = stopped[-1]["text"]
    assert shown.startswith("echo (1")
    assert not shown.endswith("eight")
    messages = await stored_messages(server, "slow", "chat-stop")
    assert messages[1]["content"] == shown
    assert messages[1]["id"] == stopped[-1]["id"]
    assert messages[1]["metadata"] == {"interrupted": True}
    # the next turn sees the same history on both sides: the partial answer counts
    assert result["next"]["messages"][-1]["text"] == "echo (3 messages): next"
    assert len(await stored_messages(server, "slow", "chat-stop")) == 4


async def test_resume_answers_204_when_nothing_is_in_flight(server: str) -> None:
    result = await run_node("usechat.mjs", server, "resumeIdle")
    assert result == {
        "status": "ready",
        "error": None,
        "messages": [],
        "finishReasons": [],
        "aborts": [],
    }
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.get("/v1/agents/assistant/chat/nothing-here/stream")
        assert response.status_code == 204
        response = await http.get("/v1/agents/nobody/chat/x/stream")
        assert response.status_code == 404


async def test_resume_replays_and_follows_an_answer_in_flight(server: str) -> None:
    result = await run_node("usechat.mjs", server, "resumeLive")
    full = "echo (1 messages): alpha beta gamma delta epsilon"
    assert result["first"]["messages"][-1]["text"] == full
    assert result["reloaded"]["messages"][-1]["text"] == full
    assert result["reloaded"]["messages"][-1]["id"] == result["first"]["messages"][-1]["id"]
    assert len(result["shownBeforeReload"].split()) < len(full.split())
    assert [m["content"] for m in await stored_messages(server, "slow", "chat-live")] == [
        "alpha beta gamma delta epsilon",
        full,
    ]


async def test_a_failed_answer_ends_in_error_and_keeps_the_question(server: str) -> None:
    result = await run_node("usechat.mjs", server, "failure")
    assert result["status"] == "error" and "HTTP 500" in result["error"]
    # the question stays where the user saw it: the next turn's model sees it too
    stored = await stored_messages(server, "broken", "chat-broken")
    assert [(m["role"], m["content"]) for m in stored] == [("user", "hello")]
    body = {
        "id": "wire-broken",
        "messages": [{"role": "user", "parts": [{"type": "text", "text": "x"}]}],
    }
    async with httpx.AsyncClient(base_url=server) as http:
        events = sse_json((await http.post("/v1/agents/broken/chat", json=body)).text)
    assert [e["type"] for e in events] == ["start", "start-step", "error", "finish-step", "finish"]
    assert events[-1]["finishReason"] == "error"


async def test_chat_route_refuses_bad_bodies(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        url = "/v1/agents/assistant/chat"
        assistant_last = {"id": "c", "messages": [{"id": "m", "role": "assistant", "parts": []}]}
        response = await http.post(url, json=assistant_last)
        assert response.status_code == 422 and "must be the user's" in response.text
        no_text = {"id": "c", "messages": [{"role": "user", "parts": [{"type": "file"}]}]}
        assert (await http.post(url, json=no_text)).status_code == 422
        bad_id = {"id": "a b", "messages": [{"role": "user", "parts": []}]}
        assert (await http.post(url, json=bad_id)).status_code == 422
        unknown = {
            "id": "fresh",
            "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}],
            "trigger": "regenerate-message",
            "messageId": "nope",
        }
        response = await http.post(url, json=unknown)
        assert response.status_code == 404 and response.json()["error"]["type"] == "not_found"


async def test_chat_stream_wire_format(server: str) -> None:
    body = {
        "id": "wire",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
        "trigger": "submit-message",
        "extra": "an app's own body field",
    }
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post("/v1/agents/assistant/chat", json=body)
        assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
        events = sse_json(response.text)
    assert events[0]["type"] == "start" and events[-1]["finishReason"] == "stop"
    messages = await stored_messages(server, "assistant", "wire")
    assert messages[0]["id"] == "u1" and messages[1]["id"] == events[0]["messageId"]


def without_usage(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages without ``metadata.usage``: the live ``finish`` chunk's token counts of
    the turn, which the session keeps only as per-session sums."""
    return [
        {**m, "metadata": {k: v for k, v in m["metadata"].items() if k != "usage"}}
        if "metadata" in m
        else m
        for m in messages
    ]


async def test_a_reloaded_chat_shows_what_the_live_chat_showed_and_continues(
    server: str,
) -> None:
    result = await run_node("usechat.mjs", server, "restore")
    live, loaded = result["live"], result["loaded"]
    assert all("usage" in m["metadata"] for m in live if m["role"] == "assistant")
    assert without_usage(live) == loaded  # ids, metadata, text and tool parts, step boundaries
    tools = [p for p in loaded[3]["parts"] if p["type"] == "dynamic-tool"]
    assert [(p["toolName"], p["state"]) for p in tools] == [
        ("add", "output-available"),
        ("fail", "output-error"),
    ]
    continued = result["continued"]
    assert continued["status"] == "ready" and continued["error"] is None
    assert continued["messages"][-1]["text"] == "echo (8 messages): and now?"


async def test_the_chat_route_takes_any_history_a_client_sends_back(server: str) -> None:
    """useChat sends its whole history; the server reads only the last user message."""
    history = [
        {"id": "s", "role": "system", "parts": [{"type": "text", "text": "be nice"}]},
        {"id": "u1", "role": "user", "parts": [
            {"type": "text", "text": "look at this"},
            {"type": "file", "mediaType": "image/png", "url": "data:image/png;base64,AA=="},
        ]},
        {"id": "a1", "role": "assistant", "metadata": {"anything": [1, 2]}, "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "hmm", "state": "done"},
            {"type": "dynamic-tool", "toolName": "add", "toolCallId": "c1",
             "state": "output-available", "input": {"a": 1}, "output": 2},
            {"type": "tool-weather", "toolCallId": "c2", "state": "output-error",
             "input": {}, "errorText": "no"},
            {"type": "data-progress", "id": "d1", "data": {"pct": 50}},
            {"type": "source-url", "sourceId": "x", "url": "https://example.com"},
            {"type": "text", "text": "ok", "state": "done"},
        ]},
        {"id": "t", "role": "tool", "parts": []},  # the old restore recipe made these
        {"id": "x" * 300, "role": "assistant", "parts": ["not even an object"]},
        {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "and now?"}]},
    ]  # fmt: skip
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post(
            "/v1/agents/assistant/chat", json={"id": "history", "messages": history}
        )
        assert response.status_code == 200, response.text
        assert sse_json(response.text)[-1]["finishReason"] == "stop"
        long_id = {"id": "c", "messages": [{"id": "x" * 300, "role": "user", "parts": []}]}
        refused = await http.post("/v1/agents/assistant/chat", json=long_id)
        assert refused.status_code == 422 and "longer than 256" in refused.text
    stored = await stored_messages(server, "assistant", "history")
    assert [(m.get("id"), m["content"]) for m in stored] == [
        ("u2", "and now?"),
        (stored[1]["id"], "echo (1 messages): and now?"),
    ]


async def test_regenerate_after_a_failed_answer_answers_that_question(server: str) -> None:
    """Issue 19, 3: the failed question was never stored, so regenerate() dropped the good
    answer before it and answered the question before that."""
    result = await run_node("usechat.mjs", server, "failThenRegenerate")
    failed = result["failed"]
    assert failed["status"] == "error"
    assert failed["error"].startswith("the model provider failed (HTTP 500) (request id ")
    again = result["regenerated"]
    assert again["status"] == "ready" and again["error"] is None
    expected = [
        ("user", "first question"),
        ("assistant", "echo (1 messages): first question"),
        ("user", "second question, fail once"),
        ("assistant", "echo (3 messages): second question, fail once"),
    ]
    assert [(m["role"], m["text"]) for m in again["messages"]] == expected
    stored = await stored_messages(server, "flaky", "chat-flaky")
    assert [(m["role"], m["content"]) for m in stored] == expected
    assert [m["id"] for m in stored] == [m["id"] for m in again["messages"]]


async def test_an_answer_stopped_before_its_first_word_keeps_the_question(server: str) -> None:
    """Issue 19, 4: a new message that stops the answer before it began; the question it
    answered stays in the chat (before, only the new message was stored)."""
    async with httpx.AsyncClient(base_url=server, timeout=30) as http:
        first = {
            "id": "early",
            "messages": [{"id": "q1", "role": "user", "parts": [{"type": "text", "text": "one"}]}],
        }
        second = {
            "id": "early",
            "messages": [{"id": "q2", "role": "user", "parts": [{"type": "text", "text": "two"}]}],
        }
        async with http.stream("POST", "/v1/agents/slow/chat", json=first) as response:
            async for line in response.aiter_lines():
                if '"start-step"' in line:
                    break  # it started; no word has come yet
            answer = await http.post("/v1/agents/slow/chat", json=second)
        assert sse_json(answer.text)[-1]["finishReason"] == "stop"
    stored = await stored_messages(server, "slow", "early")
    assert [(m["role"], m.get("id"), m["content"]) for m in stored] == [
        ("user", "q1", "one"),
        ("user", "q2", "two"),
        ("assistant", stored[2]["id"], "echo (2 messages): two"),
    ]  # fmt: skip
