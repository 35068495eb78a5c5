"""The OpenAI Responses API with the official ``openai`` Python SDK, unchanged: plain and
streamed, ``previous_response_id``, ``conversation``, ``store: false``, ``instructions``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from helpers.server import echo_agent, served_agents, stored_messages, upstream_agent
from openai import AsyncOpenAI


@pytest.fixture
async def server(fake_openai) -> AsyncIterator[str]:
    gpt = upstream_agent("gpt", fake_openai.base_url, instructions="Be brief.")
    broken = upstream_agent("broken", fake_openai.base_url, "status-500", max_retries=0)
    async with served_agents(echo_agent("echo"), gpt, broken) as url:
        yield url


@pytest.fixture
async def client(server: str) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0) as client:
        yield client


async def test_plain_response_then_previous_response_id(client: AsyncOpenAI) -> None:
    first = await client.responses.create(model="echo", input="My name is Alice")
    assert first.status == "completed" and first.id.startswith("resp_")
    assert first.output_text == "echo (1 messages): My name is Alice"
    assert first.usage is not None and first.usage.output_tokens > 0
    second = await client.responses.create(
        model="echo", input="What is my name?", previous_response_id=first.id
    )
    assert second.output_text == "echo (3 messages): What is my name?"
    third = await client.responses.create(
        model="echo", input="And again?", previous_response_id=second.id
    )
    assert third.output_text == "echo (5 messages): And again?"


async def test_previous_response_that_is_not_the_latest_branches(client: AsyncOpenAI) -> None:
    first = await client.responses.create(model="echo", input="root")
    await client.responses.create(model="echo", input="one way", previous_response_id=first.id)
    other = await client.responses.create(
        model="echo", input="another way", previous_response_id=first.id
    )
    assert other.output_text == "echo (3 messages): another way"  # root, its answer, this
    after = await client.responses.create(model="echo", input="on", previous_response_id=other.id)
    assert after.output_text == "echo (5 messages): on"


async def test_streamed_response(client: AsyncOpenAI) -> None:
    stream = await client.responses.create(model="echo", input="stream me", stream=True)
    kinds, deltas = [], []
    async for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "".join(deltas) == "echo (1 messages): stream me"
    completed = event.response  # type: ignore[union-attr]
    assert completed.output_text == "".join(deltas)
    follow = await client.responses.create(
        model="echo", input="next", previous_response_id=completed.id
    )
    assert follow.output_text == "echo (3 messages): next"


async def test_the_sdks_stream_helper(client: AsyncOpenAI) -> None:
    async with client.responses.stream(model="gpt", input="hello") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    assert final.output_text == "fake reply to: hello (2 messages)"  # instructions + input


async def test_instructions_add_to_the_agents_own(client: AsyncOpenAI, fake_openai) -> None:
    await client.responses.create(model="gpt", input="hi", instructions="Answer in French.")
    sent = fake_openai.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief.\n\nAnswer in French."}
    assert sent[1:] == [{"role": "user", "content": "hi"}]


async def test_conversations_keep_the_history(client: AsyncOpenAI, server: str) -> None:
    conversation = await client.conversations.create()
    assert conversation.id.startswith("conv_")
    await client.responses.create(model="echo", input="first", conversation=conversation.id)
    again = await client.responses.create(
        model="echo", input="second", conversation={"id": conversation.id}
    )
    assert again.output_text == "echo (3 messages): second"
    items = await client.conversations.items.list(conversation.id, order="asc")
    texts = [item.content[0].text for item in items.data]  # type: ignore[union-attr]
    assert texts == ["first", "echo (1 messages): first", "second", "echo (3 messages): second"]
    assert [item.role for item in items.data] == ["user", "assistant"] * 2  # type: ignore[union-attr]
    fetched = await client.conversations.retrieve(conversation.id)
    assert fetched.id == conversation.id
    deleted = await client.conversations.delete(conversation.id)
    assert deleted.deleted
    assert await stored_messages(server, "echo", conversation.id) == []
    with pytest.raises(openai.NotFoundError):
        await client.conversations.retrieve(conversation.id)


async def test_conversation_created_with_items(client: AsyncOpenAI) -> None:
    conversation = await client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "remember 42"}],
        metadata={"agent": "echo"},
    )
    answer = await client.responses.create(
        model="echo", input="what number?", conversation=conversation.id
    )
    assert answer.output_text == "echo (2 messages): what number?"


async def test_store_false_stores_nothing(client: AsyncOpenAI, server: str) -> None:
    first = await client.responses.create(model="echo", input="kept")
    loose = await client.responses.create(
        model="echo", input="not kept", previous_response_id=first.id, store=False
    )
    assert loose.output_text == "echo (3 messages): not kept"  # it saw the history...
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(loose.id)  # ...and stored nothing
    after = await client.responses.create(model="echo", input="next", previous_response_id=first.id)
    assert after.output_text == "echo (3 messages): next"
    alone = await client.responses.create(model="echo", input="alone", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(alone.id)


async def test_retrieve_and_delete_a_response(client: AsyncOpenAI) -> None:
    first = await client.responses.create(model="echo", input="one")
    second = await client.responses.create(model="echo", input="two", previous_response_id=first.id)
    fetched = await client.responses.retrieve(first.id)
    assert fetched.id == first.id and fetched.output_text == first.output_text
    await client.responses.delete(second.id)  # the SDK returns None; an error would raise
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(second.id)
    # the first response is the session's latest again: continuing it stays in its session
    again = await client.responses.create(
        model="echo", input="three", previous_response_id=first.id
    )
    assert again.output_text == "echo (3 messages): three"


async def test_bad_input_gets_openai_errors(client: AsyncOpenAI, server: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(model="echo", input="x", previous_response_id="resp_nope")
    assert info.value.code == "previous_response_not_found"
    assert info.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError) as missing:
        await client.responses.create(model="nobody", input="x")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError, match="last item must be a user message"):
        await client.responses.create(
            model="echo", input=[{"role": "assistant", "content": "hello"}]
        )
    with pytest.raises(openai.BadRequestError, match="not supported"):
        await client.responses.create(
            model="echo",
            input=[{"type": "function_call_output", "call_id": "c", "output": "x"}],
        )
    with pytest.raises(openai.BadRequestError, match="cannot be used together"):
        await client.responses.create(
            model="echo", input="x", previous_response_id="resp_x", conversation="conv_x"
        )
    async with httpx.AsyncClient(base_url=server) as http:
        for raw in (b"", b"[1]", b"\xff\xfe", b'{"model": "echo", "input": 5}'):
            response = await http.post("/v1/responses", content=raw)
            assert response.status_code == 400, raw
            assert response.json()["error"]["type"] == "invalid_request_error"
        response = await http.post("/v1/responses", json={"model": "echo"})
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert response.json()["error"]["param"] == "input"


async def test_a_failed_model_stores_nothing(client: AsyncOpenAI, server: str) -> None:
    conversation = await client.conversations.create()
    with pytest.raises(openai.APIStatusError) as info:
        await client.responses.create(model="broken", input="x", conversation=conversation.id)
    assert info.value.status_code == 502
    stream = await client.responses.create(
        model="broken", input="x", conversation=conversation.id, stream=True
    )
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.failed"
    assert await stored_messages(server, "broken", conversation.id) == []
