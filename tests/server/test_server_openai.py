"""The official ``openai`` client against ``/v1/chat/completions`` and ``/v1/models``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from helpers.server import echo_agent, served_agents, upstream_agent
from openai import AsyncOpenAI

API_KEY = "vel-openai-test-key"


@pytest.fixture
async def server(fake_openai) -> AsyncIterator[str]:
    gpt = upstream_agent("gpt", fake_openai.base_url)
    broken = upstream_agent("broken", fake_openai.base_url, "status-500", max_retries=0)
    async with served_agents(echo_agent("echo"), gpt, broken, api_key=API_KEY) as url:
        yield url


@pytest.fixture
async def client(server: str) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=f"{server}/v1", api_key=API_KEY, max_retries=0) as client:
        yield client


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


async def test_models_lists_the_agents(client: AsyncOpenAI) -> None:
    models = await client.models.list()
    assert sorted(m.id for m in models.data) == ["broken", "echo", "gpt"]
    assert all(m.owned_by == "vel-runner" for m in models.data)


@pytest.mark.parametrize("agent", ["echo", "gpt"])
async def test_plain_turns_share_a_session(client: AsyncOpenAI, server: str, agent: str) -> None:
    headers = {"X-Session-Id": f"chat-{agent}"}
    first = await client.chat.completions.create(
        model=agent, messages=user("My name is Alice"), extra_headers=headers
    )
    assert first.object == "chat.completion" and first.model == agent
    assert first.choices[0].message.role == "assistant"
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None and first.usage.total_tokens > 0
    second = await client.chat.completions.create(
        model=agent,
        messages=[*user("My name is Alice"), {"role": "assistant", "content": "x"}, *user("Who?")],
        extra_headers=headers,
    )
    reply = second.choices[0].message.content or ""
    assert "Who?" in reply and "3 messages" in reply  # history came from the session
    async with httpx.AsyncClient(
        base_url=server, headers={"authorization": f"Bearer {API_KEY}"}
    ) as http:
        stored = (await http.get(f"/v1/agents/{agent}/sessions/chat-{agent}")).json()
    assert stored["message_count"] == 4


async def test_streamed_turns_share_a_session_via_user(client: AsyncOpenAI) -> None:
    texts = []
    for message in ("hello", "again"):
        stream = await client.chat.completions.create(
            model="gpt",
            messages=user(message),
            user="stream-user",
            stream=True,
            stream_options={"include_usage": True},
        )
        parts, finish, usage = [], None, None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        assert finish == "stop" and usage is not None and usage.total_tokens > 0
        texts.append("".join(parts))
    assert texts[0] == "fake reply to: hello (1 messages)"
    assert texts[1] == "fake reply to: again (3 messages)"


async def test_errors_surface_as_openai_exceptions(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="ghost"):
        await client.chat.completions.create(model="ghost", messages=user("hi"))
    with pytest.raises(
        openai.APIStatusError, match=r"model provider failed \(HTTP 500\)"
    ) as failed:
        await client.chat.completions.create(model="broken", messages=user("hi"))
    assert failed.value.status_code == 502
    with pytest.raises(openai.UnprocessableEntityError, match="user"):
        await client.chat.completions.create(
            model="echo", messages=[{"role": "system", "content": "only system"}]
        )
    with pytest.raises(openai.UnprocessableEntityError, match="session id"):
        await client.chat.completions.create(
            model="echo", messages=user("hi"), extra_headers={"X-Session-Id": "bad id"}
        )
    with pytest.raises(openai.APIError, match=r"model provider failed \(HTTP 500\)"):
        stream = await client.chat.completions.create(
            model="broken", messages=user("hi"), stream=True
        )
        async for _ in stream:
            pass
    async with AsyncOpenAI(base_url=client.base_url, api_key="wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            await bad.models.list()


async def test_content_parts_are_joined(client: AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(
        model="echo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "part one, "},
                    {"type": "text", "text": "two"},
                ],
            }
        ],
    )
    assert reply.choices[0].message.content == "echo (1 messages): part one, two"
