"""A stored chat as AI SDK UI messages (``vel_runner.ui_messages`` and
``GET /v1/agents/{id}/chat/{chat_id}/messages``), accepted by ``validateUIMessages`` of every
pinned ``ai`` release (tests/js). That the restored chat equals the live one is checked with
the real ``useChat`` machinery in tests/e2e/test_usechat.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers.node import SCHEMAS, node_harness
from helpers.server import echo_agent, served_agents, sse_json

from vel_runner.ui_messages import to_ui_messages


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def fails() -> str:
    """Always fails."""
    raise ValueError("broken")


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


STORED: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "hi", "id": "u1"},
    {"role": "assistant", "content": "hello", "id": "a1"},
    {"role": "user", "content": "add and fail", "id": "u2"},
    {
        "role": "assistant",
        "content": "Let me see.",
        "tool_calls": [tool_call("c1", "add", '{"a": 1, "b": 2}'), tool_call("c2", "fails", "")],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "3"},
    {"role": "tool", "tool_call_id": "c2", "content": '{"error": "ValueError: broken"}'},
    {"role": "assistant", "content": "3, and a failure", "id": "a2"},
    {"role": "user", "content": [{"type": "text", "text": "parts"}]},  # set through PUT
    {"role": "assistant", "content": "partial ans", "id": "a3", "metadata": {"interrupted": True}},
    {"role": "user", "content": "client tool", "id": "u4"},
    {"role": "assistant", "content": None, "tool_calls": [tool_call("c3", "lookup", "{bad")]},
]


def test_a_stored_chat_becomes_ui_messages() -> None:
    ui = to_ui_messages(STORED, "bot", "chat-1")
    assert [(m["id"], m["role"]) for m in ui] == [
        ("u1", "user"),
        ("a1", "assistant"),
        ("u2", "user"),
        ("a2", "assistant"),
        ("m8", "user"),  # no stored id: its index, stable between loads
        ("a3", "assistant"),
        ("u4", "user"),
        ("m11", "assistant"),
    ]
    assert ui[0]["parts"] == [{"type": "text", "text": "hi"}]  # the system prompt is left out
    assert ui[1] == {
        "id": "a1",
        "role": "assistant",
        "metadata": {"agentId": "bot", "sessionId": "chat-1"},
        "parts": [{"type": "step-start"}, {"type": "text", "text": "hello", "state": "done"}],
    }
    assert ui[3]["parts"] == [
        {"type": "step-start"},
        {"type": "text", "text": "Let me see.", "state": "done"},
        {
            "type": "dynamic-tool",
            "toolName": "add",
            "toolCallId": "c1",
            "state": "output-available",
            "input": {"a": 1, "b": 2},
            "output": 3,
        },
        {
            "type": "dynamic-tool",
            "toolName": "fails",
            "toolCallId": "c2",
            "state": "output-error",
            "input": {},
            "errorText": "ValueError: broken",
        },
        {"type": "step-start"},
        {"type": "text", "text": "3, and a failure", "state": "done"},
    ]
    assert ui[4]["parts"] == [{"type": "text", "text": "parts"}]
    assert ui[5]["metadata"] == {"agentId": "bot", "sessionId": "chat-1", "interrupted": True}
    # a call of the client's own tool, not answered yet; its arguments are not JSON
    assert ui[7]["parts"] == [
        {"type": "step-start"},
        {
            "type": "dynamic-tool",
            "toolName": "lookup",
            "toolCallId": "c3",
            "state": "input-available",
            "input": "{bad",
        },
    ]


def test_text_results_and_marked_errors() -> None:
    stored = [
        {"role": "user", "content": "q", "id": "u"},
        {"role": "assistant", "content": "", "tool_calls": [tool_call("c", "t", "{}")]},
        {"role": "tool", "tool_call_id": "c", "content": "plain text, not JSON"},
        {"role": "assistant", "content": "", "tool_calls": [tool_call("d", "t", "{}")]},
        {"role": "tool", "tool_call_id": "d", "content": "x", "metadata": {"error": "timed out"}},
        {"role": "assistant", "content": "", "id": "a"},
    ]
    parts = to_ui_messages(stored, "bot", "c")[1]["parts"]
    assert parts[1]["output"] == "plain text, not JSON"
    assert parts[3]["state"] == "output-error" and parts[3]["errorText"] == "timed out"
    # the answer's text part exists even when the model wrote nothing, as in the live stream
    assert parts[-1] == {"type": "text", "text": "", "state": "done"}
    assert to_ui_messages([], "bot", "c") == []


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async with served_agents(echo_agent("assistant", tools=[add, fails])) as url:
        yield url


async def chat_turn(http: httpx.AsyncClient, chat_id: str, text: str, message_id: str) -> str:
    body = {
        "id": chat_id,
        "messages": [{"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}],
    }
    response = await http.post("/v1/agents/assistant/chat", json=body)
    assert response.status_code == 200
    return str(sse_json(response.text)[0]["messageId"])


def validate_messages(messages: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    node_harness(SCHEMAS)
    return subprocess.run(
        ["node", "validate_messages.mjs"],
        input=json.dumps(messages), capture_output=True, text=True, cwd=SCHEMAS, timeout=60,
    )  # fmt: skip


async def test_the_route_answers_the_chat_and_every_ai_release_accepts_it(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        first = await chat_turn(http, "c1", "hello", "u1")
        second = await chat_turn(http, "c1", '/tool add {"a": 2, "b": 3}\n/tool fails {}', "u2")
        ui = (await http.get("/v1/agents/assistant/chat/c1/messages")).json()
    assert [(m["id"], m["role"]) for m in ui] == [
        ("u1", "user"),
        (first, "assistant"),
        ("u2", "user"),
        (second, "assistant"),
    ]
    tools = [p for p in ui[3]["parts"] if p["type"] == "dynamic-tool"]
    assert [(p["toolName"], p["state"]) for p in tools] == [
        ("add", "output-available"),
        ("fails", "output-error"),
    ]
    assert tools[0]["output"] == 5 and tools[1]["errorText"] == "ValueError: broken"
    # plus the shapes a live chat cannot make here: an interrupted answer, a pending call
    result = validate_messages([*ui, *to_ui_messages(STORED, "bot", "x")])
    report = json.loads(result.stdout)
    assert result.returncode == 0, json.dumps(report, indent=1)
    assert sorted(report) == ["ai5", "ai6", "ai7"]
    assert all(entry["exported"] and entry["error"] is None for entry in report.values())


async def test_the_validator_refuses_a_bad_message() -> None:
    broken = [{"id": "x", "role": "user", "parts": [{"type": "dynamic-tool", "state": "nope"}]}]
    result = validate_messages(broken)
    assert result.returncode == 1
    assert all(entry["error"] for entry in json.loads(result.stdout).values())


async def test_an_unknown_chat_is_empty_and_bad_ids_are_refused(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        assert (await http.get("/v1/agents/assistant/chat/never-used/messages")).json() == []
        unknown = await http.get("/v1/agents/nobody/chat/x/messages")
        assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"
        bad = await http.get("/v1/agents/assistant/chat/a%20b/messages")
        assert bad.status_code == 422


async def test_a_stateless_agent_has_no_stored_chat() -> None:
    from vel_runner import StatelessContextManager

    agent = echo_agent("oneshot", context_manager=StatelessContextManager())
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url) as http:
        body = {"id": "c", "messages": [{"role": "user", "parts": [{"type": "text", "text": "x"}]}]}
        assert (await http.post("/v1/agents/oneshot/chat", json=body)).status_code == 200
        assert (await http.get("/v1/agents/oneshot/chat/c/messages")).json() == []
