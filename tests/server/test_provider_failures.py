"""Provider failures against the fake OpenAI server: an upstream 401 that quotes the key and a
``base_url`` with ``user:password@`` never show the credentials (error, 502 body, SSE, logs),
and a stream the server ends before a finish reason is an error that stores nothing."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import httpx
import pytest
from helpers.fake_openai import FakeOpenAI
from helpers.net import free_port
from helpers.server import served_agents, sse_json

from vel_runner import Agent, ProviderError
from vel_runner.providers.openai import OpenAIProvider

KEY = "sk-proj-leakme0123456789abcdef"
PLAIN_KEY = "gateway-key-7f3a9c"  # not shaped like an OpenAI key: hidden because configured
USER = [{"role": "user", "content": "tell me a long story"}]


def gpt(base_url: str, model: str, key: str = KEY, agent_id: str = "gpt") -> Agent:
    options = {"api_key": key, "base_url": base_url, "max_retries": 0}
    return Agent(agent_id, model={"provider": "openai", "model": model, **options})


def shown(exc: BaseException) -> str:
    """Everything a traceback of ``exc`` prints (a chained SDK error included)."""
    return "".join(traceback.format_exception(exc))


# -- credentials -------------------------------------------------------------------------
@pytest.mark.parametrize("key", [KEY, PLAIN_KEY])
async def test_a_401_quoting_the_key_never_shows_it(fake_openai: FakeOpenAI, key: str) -> None:
    provider = OpenAIProvider(api_key=key, base_url=fake_openai.base_url, max_retries=0)
    try:
        with pytest.raises(ProviderError) as plain:
            await provider.complete(USER, model="bad-key", settings={})
        with pytest.raises(ProviderError) as streamed:
            async for _ in provider.stream(USER, model="bad-key", settings={}):
                pass
    finally:
        await provider.aclose()
    for caught in (plain, streamed):
        assert "HTTP 401: Incorrect API key provided: ***" in str(caught.value)
        assert caught.value.status == 401
        assert key not in shown(caught.value)


async def test_the_key_from_the_environment_is_hidden_too(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLAIN_KEY)
    provider = OpenAIProvider(base_url=fake_openai.base_url, max_retries=0)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(USER, model="bad-key", settings={})
    finally:
        await provider.aclose()
    assert PLAIN_KEY not in shown(caught.value)


async def test_base_url_credentials_are_hidden_when_it_cannot_connect() -> None:
    base_url = f"http://bob:hunter2-secret@127.0.0.1:{free_port()}/v1"
    provider = OpenAIProvider(api_key=KEY, base_url=base_url, max_retries=0, timeout=5)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(USER, model="m", settings={})
    finally:
        await provider.aclose()
    assert "could not connect to http://bob:***@127.0.0.1:" in str(caught.value)
    assert "hunter2-secret" not in shown(caught.value) + repr(provider)


async def test_a_401_quoting_the_key_on_every_route(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    agent = gpt(fake_openai.base_url, "bad-key")
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url) as http:
        body = {"message": "hi", "session_id": "s"}
        plain = await http.post("/v1/agents/gpt/runs", json=body)
        streamed = await http.post("/v1/agents/gpt/runs", json={**body, "stream": True})
        chat = {"model": "gpt", "messages": USER}
        chat_plain = await http.post("/v1/chat/completions", json=chat)
        chat_streamed = await http.post("/v1/chat/completions", json={**chat, "stream": True})
        assert (await http.get("/v1/sessions")).json()["total"] == 0
    assert plain.status_code == 502 and chat_plain.status_code == 502
    refused = "the model provider refused the server's credentials (HTTP 401)"
    assert plain.json()["error"]["message"].startswith(refused)
    assert chat_plain.json()["error"]["message"].startswith(refused)
    assert sse_json(streamed.text)[-3]["type"] == "error"  # then finish-step, finish(error)
    # streams say it as the JSON answers do; the detail (the key starred) is in the log
    assert sse_json(streamed.text)[-3]["errorText"].startswith(refused)
    assert sse_json(chat_streamed.text)[-1]["error"]["message"].startswith(refused)
    assert "Incorrect API key provided: ***" in caplog.text
    for text in (plain.text, streamed.text, chat_plain.text, chat_streamed.text, caplog.text):
        assert KEY not in text


# -- truncated replies -------------------------------------------------------------------
async def test_a_stream_without_a_finish_reason_is_a_provider_error(
    fake_openai: FakeOpenAI,
) -> None:
    provider = OpenAIProvider(api_key=KEY, base_url=fake_openai.base_url, max_retries=0)
    deltas: list[str] = []
    try:
        with pytest.raises(ProviderError, match="before the reply was complete"):
            async for chunk in provider.stream(USER, model="truncate-2", settings={}):
                deltas.append(chunk.delta)
        with pytest.raises(ProviderError, match="incomplete or invalid reply"):
            await provider.complete(USER, model="truncate-2", settings={})
    finally:
        await provider.aclose()
    assert "".join(deltas) == "fake reply"  # what came, came; it just is not an answer


async def test_a_truncated_reply_stores_nothing(fake_openai: FakeOpenAI) -> None:
    agent = gpt(fake_openai.base_url, "truncate-3")
    try:
        with pytest.raises(ProviderError):
            await agent.run("hi", "plain")
        events: list[dict[str, Any]] = []
        with pytest.raises(ProviderError):
            async for event in agent.run_stream("hi", "streamed"):
                events.append(dict(event))
        assert [e["type"] for e in events if "delta" in e] == ["text-delta"] * 3
        assert [e["type"] for e in events[-3:]] == ["error", "finish-step", "finish"]
        assert events[-1]["finishReason"] == "error"
        assert await agent.store.get(agent.id, "plain") is None
        assert await agent.store.get(agent.id, "streamed") is None
    finally:
        await agent.aclose()


async def test_a_truncated_reply_on_every_route(
    fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        served_agents(gpt(fake_openai.base_url, "truncate-3")) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        body = {"message": "hi", "session_id": "s"}
        plain = await http.post("/v1/agents/gpt/runs", json=body)
        streamed = await http.post("/v1/agents/gpt/runs", json={**body, "stream": True})
        chat = {"model": "gpt", "messages": USER}
        headers = {"X-Session-Id": "c"}
        chat_plain = await http.post("/v1/chat/completions", json=chat, headers=headers)
        chat_streamed = await http.post(
            "/v1/chat/completions", json={**chat, "stream": True}, headers=headers
        )
        assert (await http.get("/v1/sessions")).json()["total"] == 0
    assert plain.status_code == 502 and chat_plain.status_code == 502
    events = sse_json(streamed.text)
    assert [e["type"] for e in events[-3:]] == ["error", "finish-step", "finish"]
    assert events[-1]["finishReason"] == "error"
    assert events[-3]["errorText"].startswith("the model provider failed (request id ")
    frames = sse_json(chat_streamed.text)
    assert frames[-1]["error"]["message"].startswith("the model provider failed (request id ")
    assert "before the reply was complete" in caplog.text  # the detail, for the operator
    finishes = [c["finish_reason"] for f in frames for c in f.get("choices", [])]
    assert "stop" not in finishes
