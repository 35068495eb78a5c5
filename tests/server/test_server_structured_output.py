"""Structured output over HTTP, on a real uvicorn with a scripted model: an answer that stays
invalid after its repair attempt is a typed ``invalid_output`` (502, in words an end user can
act on, never a plain 500 or "the server failed") on every route, streamed or not, and the
session keeps nothing of it; an agent's schema reaches the model through chat completions
as it does through the runs API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from helpers.scripted import Say, ScriptedProvider
from helpers.server import parse_sse, served_agents
from openai import AsyncOpenAI

from vel_runner import Agent

TICKET = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "priority": {"enum": ["low", "high"]}},
    "required": ["title", "priority"],
    "additionalProperties": False,
}
SAID = "the model's answer did not follow the agent's output schema"


def triage(*replies: Say) -> tuple[Agent, ScriptedProvider]:
    provider = ScriptedProvider(*replies, repeat_last=True)
    model = {"provider": "scripted", "model": "m"}
    return Agent("triage", model, provider=provider, output=TICKET), provider


@pytest.fixture
async def failing() -> AsyncIterator[tuple[str, ScriptedProvider]]:
    agent, provider = triage(Say(['{"title": 3}']))  # never valid
    async with served_agents(agent) as url:
        yield url, provider


def events_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(f["data"]) for f in parse_sse(text) if f["data"] != "[DONE]"]


async def test_an_answer_invalid_twice_is_invalid_output_on_the_runs_api(
    failing: tuple[str, ScriptedProvider],
) -> None:
    url, provider = failing
    async with httpx.AsyncClient(base_url=url) as http:
        body = {"message": "printer on fire", "session_id": "s"}
        reply = await http.post("/v1/agents/triage/runs", json=body)
        assert reply.status_code == 502
        error = reply.json()["error"]
        assert error["type"] == "invalid_output" and SAID in error["message"]
        assert error["request_id"] in error["message"]
        assert len(provider.requests) == 2  # the answer and one repair attempt
        streamed = await http.post("/v1/agents/triage/runs", json={**body, "stream": True})
        events = events_of(streamed.text)
        assert "text-delta" not in [e["type"] for e in events]  # nothing invalid shown
        (failure,) = [e for e in events if e["type"] == "error"]
        assert SAID in failure["errorText"]
        session = await http.get("/v1/agents/triage/sessions/s")
        assert session.status_code == 404  # neither turn stored anything


async def test_an_answer_invalid_twice_is_invalid_output_on_the_openai_routes(
    failing: tuple[str, ScriptedProvider],
) -> None:
    url, _ = failing
    async with AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as chat:
            await client.chat.completions.create(
                model="triage", messages=[{"role": "user", "content": "printer on fire"}]
            )
        assert chat.value.status_code == 502 and SAID in chat.value.message
        with pytest.raises(openai.APIStatusError) as responses:
            await client.responses.create(model="triage", input="printer on fire")
        assert responses.value.status_code == 502 and SAID in responses.value.message
        assert responses.value.code == "invalid_output"
        stream = await client.responses.create(model="triage", input="again", stream=True)
        events = [event async for event in stream]
        failed = events[-1]
        assert failed.type == "response.failed"
        assert failed.response.error is not None and SAID in failed.response.error.message


async def test_chat_completions_send_the_agents_schema_and_answer_its_json() -> None:
    agent, provider = triage(Say(['{"title": "Printer fire", "priority": "high"}']))
    async with (
        served_agents(agent) as url,
        AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as client,
    ):
        reply = await client.chat.completions.create(
            model="triage", messages=[{"role": "user", "content": "printer on fire"}]
        )
    assert json.loads(reply.choices[0].message.content or "") == {
        "title": "Printer fire",
        "priority": "high",
    }
    sent = provider.settings[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["schema"] == TICKET
