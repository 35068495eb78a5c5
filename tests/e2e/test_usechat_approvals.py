"""Tool approval through ``useChat``: the real ``ai`` 6 and 7 ``AbstractChat`` with its
``DefaultChatTransport`` (tests/js/approvals.mjs) against a real server. The call waits as a
part in ``approval-requested``; ``addToolApprovalResponse`` answers it, sent by
``sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses`` or by hand, and
the answer goes on in the same message. Every chunk passes the version's own
``uiMessageChunkSchema`` (tests/js/validate.mjs)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers.node import SCHEMAS, node_harness, run_node
from helpers.server import echo_agent, served_agents, stored_messages

from vel_runner import FunctionTool

WIPED: list[str] = []


def wipe(path: str) -> str:
    """Wipe a path."""
    WIPED.append(path)
    return f"wiped {path}"


def peek(path: str) -> str:
    """Look at a path."""
    return f"{path} holds 3 files"


@pytest.fixture
async def server() -> AsyncIterator[str]:
    WIPED.clear()
    agent = echo_agent("ops", tools=[FunctionTool(wipe, approval="required"), peek])
    async with served_agents(agent) as url:
        yield url


def tool_parts(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["toolName"]: p for p in message["parts"] if p["type"] == "dynamic-tool"}


def validate(chunks: list[dict[str, Any]], version: str, script: str = "validate.mjs") -> None:
    """``chunks`` (or UI messages, with ``validate_messages.mjs``) pass ``version``'s schema."""
    node_harness(SCHEMAS)
    done = subprocess.run(
        ["node", script, version],
        input=json.dumps(chunks), capture_output=True, text=True, cwd=SCHEMAS, timeout=60,
    )  # fmt: skip
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(report, indent=1)


def shown(message: dict[str, Any]) -> list[dict[str, Any]]:
    """What a page shows of a message's parts (the fields both the live and the restored
    chat have)."""
    keys = ("type", "toolCallId", "state", "approval", "output", "text")
    return [
        {k: p[k] for k in keys if k in p and not (k == "state" and p["type"] == "text")}
        for p in message["parts"]
    ]


async def restored(server: str, chat_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.get(f"/v1/agents/ops/chat/{chat_id}/messages")
    assert response.status_code == 200
    messages: list[dict[str, Any]] = response.json()
    return messages


@pytest.mark.parametrize("version", ["ai6", "ai7"])
async def test_approve_sent_automatically(server: str, version: str) -> None:
    result = await run_node(
        "approvals.mjs", version, server, "ops", "approveAutomatically", harness=SCHEMAS
    )
    asked = result["asked"]["messages"][-1]
    parts = tool_parts(asked)
    assert parts["wipe"]["state"] == "approval-requested"
    assert parts["wipe"]["approval"]["id"].startswith("apr_")
    assert parts["peek"]["state"] == "output-available"  # it needed no approval: it ran
    assert result["asked"]["finishReasons"] == ["tool-calls"]
    answered = result["answered"]
    assert answered["status"] == "ready" and answered["error"] is None
    assert len(answered["messages"]) == 2  # the answer went on in the same message
    message = answered["messages"][-1]
    assert message["id"] == asked["id"]
    wiped = tool_parts(message)["wipe"]
    assert wiped["state"] == "output-available" and wiped["output"] == "wiped /srv/a"
    assert wiped["approval"] == {"id": parts["wipe"]["approval"]["id"], "approved": True}
    assert message["parts"][-1] == {
        "type": "text",
        "text": "echo (4 messages): wipe -> wiped /srv/a; peek -> /srv holds 3 files",
    }
    assert WIPED == ["/srv/a"]
    second = result["bodies"][1]  # what the automatic request sent
    assert second["trigger"] == "submit-message" and second["messages"][-1]["role"] == "assistant"
    validate(result["chunks"], version)
    stored = await stored_messages(server, "ops", f"approve-{version}")
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "tool", "assistant"]
    # a reload restores the chat as the page showed it, and the release takes it back
    again = await restored(server, f"approve-{version}")
    assert [m["id"] for m in again] == [m["id"] for m in answered["messages"]]
    assert shown(again[-1]) == shown(message)
    validate(again, version, "validate_messages.mjs")


@pytest.mark.parametrize("version", ["ai6", "ai7"])
async def test_deny_with_a_reason_then_send(server: str, version: str) -> None:
    result = await run_node(
        "approvals.mjs", version, server, "ops", "denyThenSend", harness=SCHEMAS
    )
    before = tool_parts(result["before"]["messages"][-1])["wipe"]
    assert before["state"] == "approval-responded"  # answered on the page, not yet sent
    message = result["answered"]["messages"][-1]
    denied = tool_parts(message)["wipe"]
    assert denied["state"] == "output-denied"
    assert denied["approval"]["approved"] is False
    assert denied["approval"]["reason"] == "not on a Friday"
    assert "reason: not on a Friday" in message["parts"][-1]["text"]
    assert WIPED == [] and result["answered"]["error"] is None
    validate(result["chunks"], version)
    again = await restored(server, f"deny-{version}")
    assert shown(again[-1]) == shown(message)
    validate(again, version, "validate_messages.mjs")


async def test_a_waiting_call_restores_as_approval_requested(server: str) -> None:
    """A page reloaded while the call waits shows it waiting, and ai 6 and 7 take that."""
    ask = '/tool wipe {"path": "/srv/a"}\n/tool peek {"path": "/srv"}'
    async with httpx.AsyncClient(base_url=server) as http:
        body = {"message": ask, "session_id": "chat-w"}
        asked = (await http.post("/v1/agents/ops/runs", json=body)).json()
    (approval,) = asked["approvals"]
    again = await restored(server, "chat-w")
    assert again[-1]["id"] == asked["run_id"]  # the stream's messageId, continued in place
    parts = {p["toolCallId"]: p for p in again[-1]["parts"] if p["type"] == "dynamic-tool"}
    assert parts["call_1_0"]["state"] == "approval-requested"
    assert parts["call_1_0"]["approval"] == {"id": approval["id"]}
    assert parts["call_1_1"]["state"] == "output-available"
    for version in ("ai6", "ai7"):
        validate(again, version, "validate_messages.mjs")


async def test_an_answer_to_an_unknown_approval_is_a_4xx(server: str) -> None:
    body = {
        "id": "chat-x",
        "messages": [
            {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]},
            {
                "id": "a1",
                "role": "assistant",
                "parts": [
                    {
                        "type": "dynamic-tool",
                        "toolName": "wipe",
                        "toolCallId": "call_1_0",
                        "state": "approval-responded",
                        "input": {"path": "/x"},
                        "approval": {"id": "apr_unknown", "approved": True},
                    }
                ],
            },
        ],
        "trigger": "submit-message",
    }
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post("/v1/agents/ops/chat", json=body)
    assert response.status_code == 404 and "apr_unknown" in response.json()["error"]["message"]
