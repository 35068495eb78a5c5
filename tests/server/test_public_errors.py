"""Failures said to end users in words they can act on, with the request id, never a URL,
host or key (``vel_runner.public_errors``); the detail stays in the server's log."""

from __future__ import annotations

import logging

import httpx
import pytest
from helpers.net import free_port
from helpers.server import served_agents, sse_json, upstream_agent

from vel_runner.errors import (
    InvalidInputError,
    MissingAPIKeyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnreachableError,
    SessionConflictError,
    StoreUnavailableError,
    ToolSourceUnavailableError,
    TurnCancelledError,
    VelError,
)
from vel_runner.public_errors import public_text


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (ProviderUnreachableError("could not connect to http://10.1.2.3:8399/v1"),
         "the model provider could not be reached"),
        (ProviderTimeoutError("http://h/v1 did not answer within 30s"),
         "the model provider did not answer in time"),
        (MissingAPIKeyError("set OPENAI_API_KEY"),
         "the model provider is not set up on the server (no API key)"),
        (ProviderError("x answered HTTP 401: Incorrect API key sk-...", status=401),
         "the model provider refused the server's credentials (HTTP 401)"),
        (ProviderError("x", status=429),
         "the model provider is busy (HTTP 429); try again in a moment"),
        (ProviderError("x", status=400), "the model provider refused the request (HTTP 400)"),
        (ProviderError("x", status=503), "the model provider failed (HTTP 503)"),
        (ProviderError("stream ended early"), "the model provider failed"),
        (TurnCancelledError("x"), "the model call was cancelled"),
        (StoreUnavailableError("session database unavailable (db.internal:5432/app): refused"),
         "the session store is unavailable; try again in a moment"),
        (ToolSourceUnavailableError("mcp server 'files' (http://10.0.0.5/mcp) is down"),
         "a tool server this agent needs is unavailable; try again in a moment"),
        (SessionConflictError("x"), "the conversation changed during the answer; try again"),
        (VelError("anything at http://internal"), "the server failed to answer"),
        (RuntimeError("boom"), "the server failed to answer"),
    ],
)  # fmt: skip
def test_each_failure_in_words(error: BaseException, text: str) -> None:
    assert public_text(error) == text
    assert public_text(error, "req-1") == f"{text} (request id req-1)"


def test_the_clients_own_mistakes_keep_their_message() -> None:
    error = InvalidInputError("message must not be empty")
    assert public_text(error, "req-1") == "message must not be empty"


async def test_an_unreachable_provider_is_said_in_words_and_detailed_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there
    agent = upstream_agent("gpt", base_url, max_retries=0)
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/v1/agents/gpt/runs", json={"message": "hi"})
    assert response.status_code == 502
    request_id = response.headers["x-request-id"]
    assert response.json()["error"] == {
        "type": "provider_error",
        "message": f"the model provider could not be reached (request id {request_id})",
        "request_id": request_id,
    }
    assert f"could not connect to {base_url}" in caplog.text


async def test_the_chat_streams_error_text_is_said_in_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    agent = upstream_agent("gpt", base_url, max_retries=0)
    chat = {"id": "c", "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/v1/agents/gpt/chat", json=chat)
    events = sse_json(response.text)
    assert [e["type"] for e in events] == ["start", "start-step", "error", "finish-step", "finish"]
    request_id = response.headers["x-request-id"]
    assert events[2]["errorText"] == (
        f"the model provider could not be reached (request id {request_id})"
    )
    assert "127.0.0.1" not in response.text
    assert f"could not connect to {base_url}" in caplog.text
