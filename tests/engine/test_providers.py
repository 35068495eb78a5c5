"""Providers: the real openai SDK against an OpenAI-compatible server on loopback, and echo."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers.fake_openai import FakeOpenAI
from helpers.net import free_port

from vel_runner import Agent, MissingAPIKeyError, ProviderError
from vel_runner.providers import PROVIDER_TYPES, Provider, create_provider
from vel_runner.providers.echo import EchoProvider

SECRET = "sk-test-secret-value-123"


def openai_agent(fake: FakeOpenAI, model: str = "gpt-4o", **extra: object) -> Agent:
    return Agent(
        id="oa",
        model={
            "provider": "openai",
            "model": model,
            "api_key": SECRET,
            "base_url": fake.base_url,
            "max_retries": 0,
            **extra,
        },
    )


def test_registry_builds_providers_by_type_name() -> None:
    assert set(PROVIDER_TYPES) == {"openai", "echo"}
    echo = create_provider("echo")
    assert isinstance(echo, Provider) and isinstance(echo, EchoProvider)
    assert isinstance(create_provider("openai", api_key="k"), Provider)


async def test_plain_turns_reach_the_server_with_the_history(fake_openai: FakeOpenAI) -> None:
    agent = openai_agent(fake_openai, temperature=0.2)
    first = await agent.run({"message": "My name is Alice"}, session_id="s")
    second = await agent.run({"message": "What is my name?"}, session_id="s")
    assert first == "fake reply to: My name is Alice (1 messages)"
    assert second == "fake reply to: What is my name? (3 messages)"
    request = fake_openai.requests[-1]
    assert request["model"] == "gpt-4o" and request["temperature"] == 0.2
    assert request["messages"][0] == {"role": "user", "content": "My name is Alice"}
    result = await agent.run_turn("usage?", session_id="s")
    assert result.usage is not None and result.usage.prompt_tokens == 5


async def test_streamed_turns_deliver_deltas_and_usage(fake_openai: FakeOpenAI) -> None:
    agent = openai_agent(fake_openai)
    events = [e async for e in agent.run_stream("stream me", session_id="st")]
    text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
    assert text == "fake reply to: stream me (1 messages)"
    assert sum(e["type"] == "text-delta" for e in events) > 3
    assert events[-1]["messageMetadata"]["usage"]["total_tokens"] > 0
    assert fake_openai.requests[-1]["stream"] is True
    assert agent.ctxmgr.get_session_context("st")[1]["content"] == text


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
async def test_error_statuses_become_provider_errors(fake_openai: FakeOpenAI, status: int) -> None:
    agent = openai_agent(fake_openai, model=f"status-{status}")
    with pytest.raises(ProviderError) as info:
        await agent.run("hi", session_id="s")
    assert info.value.status == status
    assert f"HTTP {status}" in str(info.value) and f"fake failure {status}" in str(info.value)
    assert SECRET not in str(info.value)
    assert agent.ctxmgr.get_session_context("s") == []
    with pytest.raises(ProviderError):
        async for _ in agent.run_stream("hi", session_id="s"):
            pass
    assert agent.ctxmgr.get_session_context("s") == []


async def test_slow_server_times_out_with_a_clear_error(fake_openai: FakeOpenAI) -> None:
    agent = openai_agent(fake_openai, model="slow-3", timeout=0.3)
    started = time.perf_counter()
    with pytest.raises(ProviderError, match=r"did not answer within 0.3s"):
        await agent.run("hi", session_id="s")
    assert time.perf_counter() - started < 2
    assert agent.ctxmgr.get_session_context("s") == []


async def test_slow_but_in_time_server_answers(fake_openai: FakeOpenAI) -> None:
    agent = openai_agent(fake_openai, model="slow-0.2", timeout=5)
    assert (await agent.run("patience")).startswith("fake reply to: patience")


async def test_unreachable_server_is_a_provider_error() -> None:
    agent = Agent(
        id="x",
        model={
            "provider": "openai",
            "model": "m",
            "api_key": SECRET,
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "max_retries": 0,
        },
    )
    with pytest.raises(ProviderError, match="could not connect") as info:
        await agent.run("hi")
    assert SECRET not in str(info.value)


async def test_retries_are_the_sdks_own(fake_openai: FakeOpenAI) -> None:
    before = len(fake_openai.requests)
    agent = openai_agent(fake_openai, model="status-503", max_retries=2)
    with pytest.raises(ProviderError):
        await agent.run("hi")
    assert len(fake_openai.requests) - before == 3


async def test_key_comes_from_the_environment(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    agent = Agent(
        id="env", model={"provider": "openai", "model": "m", "base_url": fake_openai.base_url}
    )
    assert (await agent.run("hi")).startswith("fake reply to: hi")
    monkeypatch.delenv("OPENAI_API_KEY")
    fresh = Agent(id="env2", model={"provider": "openai", "model": "m"})
    with pytest.raises(MissingAPIKeyError, match="set the OPENAI_API_KEY environment variable"):
        await fresh.run("hi")
    assert SECRET not in repr(agent.provider)


async def test_echo_provider_is_deterministic_and_streams_words() -> None:
    echo = EchoProvider()
    messages = [{"role": "user", "content": "a b c"}]
    whole = await echo.complete(messages, model="e", settings={})
    chunks = [c async for c in echo.stream(messages, model="e", settings={})]
    assert whole.text == "echo (1 messages): a b c"
    assert "".join(c.delta for c in chunks) == whole.text
    assert chunks[-1].usage == whole.usage
    assert [c.delta for c in chunks[:-1]] == ["echo", " (1", " messages):", " a", " b", " c"]


def test_an_agent_serves_one_event_loop_after_another(fake_openai: FakeOpenAI) -> None:
    """A script may call ``asyncio.run`` once per message: each loop gets a working client."""
    agent = openai_agent(fake_openai)
    first = asyncio.run(agent.run("My name is Alice", session_id="loops"))
    second = asyncio.run(agent.run("What is my name?", session_id="loops"))
    assert first == "fake reply to: My name is Alice (1 messages)"
    assert second == "fake reply to: What is my name? (3 messages)"
    asyncio.run(agent.aclose())


class Counted(dict):  # type: ignore[type-arg]
    """A message that counts how often its content is read."""

    reads = 0

    def get(self, key: str, default: object = None) -> object:
        if key == "content":
            Counted.reads += 1
        return super().get(key, default)


async def test_echo_counts_a_long_history_once() -> None:
    """The echo model's prompt tokens are the words of every message; a session's history,
    sent again each turn (the same messages), is not counted again, so a long session costs
    the server no more than a short one."""
    provider = EchoProvider()
    history = [Counted(role="user", content=f"word {i} here") for i in range(300)]
    first = await provider.complete(history, model="m", settings={})
    assert first.usage is not None and first.usage.prompt_tokens == 900
    Counted.reads = 0
    new = [Counted(role="assistant", content="a b"), Counted(role="user", content="c")]
    second = await provider.complete([*history, *new], model="m", settings={})
    assert second.usage is not None and second.usage.prompt_tokens == 903
    assert Counted.reads <= 3  # the two new messages (and the last user one, for the reply)
    edited = [Counted(role="user", content="a new start"), *history[1:]]  # not the same history
    third = await provider.complete(edited, model="m", settings={})
    assert third.usage is not None and third.usage.prompt_tokens == 900
