"""The Responses API from JavaScript, unchanged: the node ``openai`` SDK and the AI SDK's
``openai(agent)`` provider (tests/js_clients/responses.mjs) against a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers.node import run_node
from helpers.server import echo_agent, served_agents


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async with served_agents(echo_agent("echo")) as url:
        yield url


async def test_node_openai_sdk(server: str) -> None:
    result = await run_node("responses.mjs", server, "nodeSdk")
    assert result["first"] == "echo (1 messages): My name is Alice"
    assert result["second"] == "echo (3 messages): What is my name?"
    assert result["streamedText"] == "echo (5 messages): streamed"
    assert result["completedText"] == result["streamedText"]
    assert result["kinds"] == ["response.created", "response.completed"]
    assert result["missing"] == {
        "status": 400,
        "code": "previous_response_not_found",
        "param": "previous_response_id",
    }


async def test_ai_sdk_openai_provider(server: str) -> None:
    result = await run_node("responses.mjs", server, "aiSdk")
    assert result["first"] == "echo (1 messages): My name is Alice"
    assert result["firstFinish"] == "stop"
    assert result["responseId"].startswith("resp_")
    assert result["second"] == "echo (3 messages): What is my name?"
    # streamText: the system prompt travels as a system/developer message before the prompt
    assert result["streamedText"] == "echo (2 messages): stream this"
    assert result["streamedFinish"] == "stop" and result["usage"] > 0
