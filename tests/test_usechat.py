"""``useChat`` with its default transport, unchanged: the ``ai`` package's ``AbstractChat`` and
``DefaultChatTransport`` (tests/js_clients/usechat.mjs) against a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from helpers.node import run_node
from helpers.server import echo_agent, served_agents, sse_json, stored_messages, upstream_agent

from vel_runner import Agent


@pytest.fixture
async def server(fake_openai) -> AsyncIterator[str]:
    broken = upstream_agent("broken", fake_openai.base_url, "status-500", max_retries=0)
    slow = Agent("slow", model={"provider": "echo", "model": "echo-1", "delay": 0.15})
    async with served_agents(echo_agent("assistant"), slow, broken) as url:
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


async def test_a_failed_answer_ends_in_error_and_stores_nothing(server: str) -> None:
    result = await run_node("usechat.mjs", server, "failure")
    assert result["status"] == "error" and "HTTP 500" in result["error"]
    assert await stored_messages(server, "broken", "chat-broken") == []
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
