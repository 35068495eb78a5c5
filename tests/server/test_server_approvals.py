"""Tool approval and structured output over HTTP, on a real uvicorn: ``GET /v1/approvals``
lists the calls waiting for a person across the loaded agents (each store asked once; only
this config's agents); the runs API (JSON and SSE) asks and answers; chat completions (the
real ``openai`` SDK) shows what waits; the Responses API speaks OpenAI's
``mcp_approval_request`` / ``mcp_approval_response`` items and ``text.format``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from helpers.approvals import waiting_step
from helpers.server import echo_agent, parse_sse, served_agents
from openai import AsyncOpenAI

from vel_runner import FunctionTool
from vel_runner.storage.memory import MemoryStore
from vel_runner.tools.base import ToolCall


def wipe(path: str) -> str:
    """Wipe a path."""
    return f"wiped {path}"


def peek(path: str) -> str:
    """Look at a path."""
    return f"{path} holds 3 files"


TOOLS = [FunctionTool(wipe, approval="required", approval_timeout=600), FunctionTool(peek)]
SPECS = {spec.name: spec for tool in TOOLS for spec in tool.list_tools()}
WIPE = ToolCall("call_1", "wipe", '{"path": "/srv/data"}')
PEEK = ToolCall("call_2", "peek", '{"path": "/srv"}')
ASK = '/tool wipe {"path": "/srv/data"}\n/tool peek {"path": "/srv"}'
TICKET = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "priority": {"enum": ["low", "high"]}},
    "required": ["title", "priority"],
    "additionalProperties": False,
}


async def test_pending_approvals_are_listed_across_agents() -> None:
    shared = MemoryStore()
    ops = echo_agent("ops", tools=TOOLS, session_storage=shared)
    other = echo_agent("other", tools=TOOLS, session_storage=shared)
    await ops.ctxmgr.aset_session_context("s1", waiting_step([WIPE, PEEK], SPECS))
    await other.ctxmgr.aset_session_context("s9", waiting_step([WIPE], SPECS))
    await shared.set("retired", "s1", waiting_step([WIPE], SPECS))  # not in this config
    await ops.ctxmgr.aset_session_context("plain", [{"role": "user", "content": "hi"}])
    async with served_agents(ops, other) as base, httpx.AsyncClient(base_url=base) as http:
        listed = (await http.get("/v1/approvals")).json()["approvals"]
        assert [(a["agent_id"], a["session_id"], a["tool"]) for a in listed] == [
            ("ops", "s1", "wipe"),
            ("other", "s9", "wipe"),
        ]
        first = listed[0]
        assert first["input"] == {"path": "/srv/data"} and first["tool_call_id"] == "call_1"
        assert first["id"].startswith("apr_") and first["expires_at"] is not None
        only = (await http.get("/v1/approvals", params={"agent": "other"})).json()
        assert [a["session_id"] for a in only["approvals"]] == ["s9"]
        missing = await http.get("/v1/approvals", params={"agent": "nobody"})
        assert missing.status_code == 404 and "unknown agent 'nobody'" in missing.text


async def test_the_approvals_route_needs_the_api_key() -> None:
    served = served_agents(echo_agent("ops"), api_key="k-123")
    async with served as base, httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/v1/approvals")).status_code == 401
        headers = {"Authorization": "Bearer k-123"}
        answer = await http.get("/v1/approvals", headers=headers)
        assert answer.status_code == 200 and answer.json() == {"approvals": []}


@pytest.fixture
async def server() -> AsyncIterator[str]:
    agents = [
        echo_agent("ops", tools=TOOLS),
        echo_agent("triage", output=TICKET),
    ]
    async with served_agents(*agents) as url:
        yield url


async def run(http: httpx.AsyncClient, agent: str = "ops", **body: Any) -> httpx.Response:
    return await http.post(f"/v1/agents/{agent}/runs", json=body)


async def test_the_runs_api_asks_and_takes_the_answer(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        asked = (await run(http, message=ASK, session_id="s")).json()
        assert asked["status"] == "awaiting_approval" and asked["output"] == ""
        (approval,) = asked["approvals"]
        assert (approval["tool"], approval["input"]) == ("wipe", {"path": "/srv/data"})
        answer = {"id": approval["id"], "approved": True, "reason": "go"}
        done = await run(http, approvals=[answer], session_id="s")
        assert done.status_code == 200
        assert done.json()["status"] == "completed" and "approvals" not in done.json()
        assert done.json()["output"] == (
            "echo (4 messages): wipe -> wiped /srv/data; peek -> /srv holds 3 files"
        )
        again = await run(http, approvals=[answer], session_id="s")
        assert again.status_code == 409 and again.json()["error"]["type"] == "approval_answered"
        assert approval["id"] in again.json()["error"]["message"]
        missing = await run(http, approvals=[{"id": "apr_nope", "approved": True}], session_id="s")
        assert missing.status_code == 404 and "apr_nope" in missing.json()["error"]["message"]
        streamed = await run(
            http, approvals=[{"id": "apr_nope", "approved": True}], session_id="s", stream=True
        )
        assert streamed.status_code == 404  # checked before the stream starts
        for body in (
            {"approvals": [answer]},
            {"message": "hi", "approvals": [answer], "session_id": "s"},
            {"approvals": [{"id": "x", "approved": "yes"}], "session_id": "s"},
            {"approvals": [], "session_id": "s"},
        ):
            refused = await run(http, **body)
            assert refused.status_code == 422, body
        assert (
            "give its session_id"
            in (await run(http, approvals=[answer])).json()["error"]["message"]
        )


async def test_the_runs_stream_carries_the_request_and_the_answer(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        response = await run(http, message=ASK, session_id="t", stream=True)
        events = [json.loads(f["data"]) for f in parse_sse(response.text) if f["data"] != "[DONE]"]
        request = next(e for e in events if e["type"] == "tool-approval-request")
        assert events[-1]["finishReason"] == "tool-calls"
        answer = {"id": request["approvalId"], "approved": False, "reason": "not today"}
        response = await run(http, approvals=[answer], session_id="t", stream=True)
        events = [json.loads(f["data"]) for f in parse_sse(response.text) if f["data"] != "[DONE]"]
        assert events[1] == {"type": "tool-output-denied", "toolCallId": "call_1_0"}
        text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
        assert "reason: not today" in text


async def test_structured_output_in_runs_json_and_stream(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        body = (await run(http, "triage", message="printer on fire", session_id="s")).json()
        expected = {"title": "echo (1 messages): printer on fire", "priority": "low"}
        assert body["object"] == expected and json.loads(body["output"]) == expected
        streamed = await run(http, "triage", message="printer on fire", stream=True)
        events = [json.loads(f["data"]) for f in parse_sse(streamed.text) if f["data"] != "[DONE]"]
        assert events[-1]["messageMetadata"]["object"] == expected


@pytest.fixture
async def client(server: str) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0) as client:
        yield client


async def test_chat_completions_say_what_waits_and_pass_response_format(
    client: AsyncOpenAI, server: str
) -> None:
    session = {"X-Session-Id": "chat-1"}
    reply = await client.chat.completions.create(
        model="ops", messages=[{"role": "user", "content": ASK}], extra_headers=session
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "stop"
    (approval,) = (reply.model_extra or {})["approvals"]
    assert choice.message.content == (
        f'[waiting for approval: wipe({{"path": "/srv/data"}}), approval {approval["id"]}]'
    )
    chunks = await client.chat.completions.create(
        model="ops", messages=[{"role": "user", "content": ASK}], stream=True,
        extra_headers={"X-Session-Id": "chat-2"},
    )  # fmt: skip
    streamed = [c async for c in chunks]
    content = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert content.startswith("[waiting for approval: wipe(")
    assert (streamed[-1].model_extra or {})["approvals"][0]["tool"] == "wipe"
    # an operator answers through the runs API; the conversation goes on from there
    async with httpx.AsyncClient(base_url=server) as http:
        answer = {"id": approval["id"], "approved": True}
        assert (await run(http, approvals=[answer], session_id="chat-1")).status_code == 200
    after = await client.chat.completions.create(
        model="ops", messages=[{"role": "user", "content": "thanks"}], extra_headers=session
    )
    assert after.choices[0].message.content == "echo (6 messages): thanks"
    # the client's own response_format goes to the model as it is
    own = await client.chat.completions.create(
        model="ops",
        messages=[{"role": "user", "content": "hello"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(own.choices[0].message.content or "") == {"echo": "echo (1 messages): hello"}


async def test_responses_api_asks_with_mcp_approval_requests(client: AsyncOpenAI) -> None:
    asked = await client.responses.create(model="ops", input=ASK)
    requests = [item for item in asked.output if item.type == "mcp_approval_request"]
    (request,) = requests
    assert (request.name, json.loads(request.arguments)) == ("wipe", {"path": "/srv/data"})
    assert request.server_label == "ops" and request.id.startswith("apr_")
    answered = await client.responses.create(
        model="ops",
        previous_response_id=asked.id,
        input=[
            {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
        ],
    )
    assert answered.output_text == (
        "echo (4 messages): wipe -> wiped /srv/data; peek -> /srv holds 3 files"
    )
    again = await client.responses.create(
        model="ops", input="and now?", previous_response_id=answered.id
    )
    assert again.output_text == "echo (6 messages): and now?"


async def test_responses_stream_and_a_refused_answer(client: AsyncOpenAI) -> None:
    stream = await client.responses.create(model="ops", input=ASK, stream=True)
    events = [event async for event in stream]
    added = [e.item for e in events if e.type == "response.output_item.added"]
    assert [item.type for item in added] == ["message", "mcp_approval_request"]
    completed = events[-1].response
    request = next(i for i in completed.output if i.type == "mcp_approval_request")
    denied = await client.responses.create(
        model="ops",
        previous_response_id=completed.id,
        input=[
            {
                "type": "mcp_approval_response",
                "approval_request_id": request.id,
                "approve": False,
                "reason": "no",
            }
        ],
    )
    assert "reason: no" in denied.output_text
    with pytest.raises(openai.ConflictError) as refused:
        await client.responses.create(
            model="ops",
            previous_response_id=completed.id,
            input=[
                {
                    "type": "mcp_approval_response",
                    "approval_request_id": request.id,
                    "approve": True,
                }
            ],
        )
    assert refused.value.status_code == 409 and request.id in str(refused.value)
    assert refused.value.code == "approval_answered"


async def test_responses_text_format_is_the_schema(client: AsyncOpenAI) -> None:
    typed = await client.responses.create(model="triage", input="printer on fire")
    assert typed.text is not None and typed.text.format.type == "json_schema"
    assert json.loads(typed.output_text)["priority"] == "low"
    own = await client.responses.create(
        model="ops", input="hello", text={"format": {"type": "json_object"}}
    )
    assert json.loads(own.output_text) == {"echo": "echo (1 messages): hello"}
    assert own.text is not None and own.text.format.type == "json_object"


async def test_responses_answers_in_a_conversation_and_need_one(client: AsyncOpenAI) -> None:
    conversation = await client.conversations.create()
    asked = await client.responses.create(model="ops", input=ASK, conversation=conversation.id)
    (request,) = [item for item in asked.output if item.type == "mcp_approval_request"]
    answer = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
    with pytest.raises(openai.BadRequestError) as lost:
        await client.responses.create(model="ops", input=[answer])  # whose approval?
    assert "previous_response_id" in str(lost.value) and "conversation" in str(lost.value)
    answered = await client.responses.create(
        model="ops", input=[answer], conversation=conversation.id
    )
    assert answered.output_text == (
        "echo (4 messages): wipe -> wiped /srv/data; peek -> /srv holds 3 files"
    )
