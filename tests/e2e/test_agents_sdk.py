"""The OpenAI Agents SDK's ``Runner.run`` with its default (Responses) model, pointed at
vel-runner's base URL, unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import ModuleType

import pytest
from helpers.server import echo_agent, served_agents
from openai import AsyncOpenAI


@pytest.fixture(scope="module")
def agents() -> ModuleType:
    """The SDK, imported where its tests run: the import takes seconds, and every test
    worker collects this file."""
    import agents

    return agents


@pytest.fixture
async def client() -> AsyncIterator[AsyncOpenAI]:
    async with (
        served_agents(echo_agent("echo")) as url,
        AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0) as client,
    ):
        yield client


async def test_runner_run_with_the_default_responses_model(
    agents: ModuleType, client: AsyncOpenAI
) -> None:
    model = agents.OpenAIResponsesModel(model="echo", openai_client=client)
    assistant = agents.Agent(name="Assistant", instructions="Be brief.", model=model)
    config = agents.RunConfig(tracing_disabled=True)
    first = await agents.Runner.run(assistant, "My name is Alice", run_config=config)
    # the SDK sends the agent's instructions; vel-runner adds them to its own
    assert first.final_output == "echo (2 messages): My name is Alice"
    second = await agents.Runner.run(
        assistant,
        "What is my name?",
        run_config=config,
        previous_response_id=first.last_response_id,
    )
    assert second.final_output == "echo (4 messages): What is my name?"


async def test_the_sdks_default_client(agents: ModuleType, client: AsyncOpenAI) -> None:
    agents.set_default_openai_client(client, use_for_tracing=False)
    agents.set_default_openai_api("responses")
    try:
        assistant = agents.Agent(name="Assistant", model="echo")
        result = await agents.Runner.run(
            assistant, "hello", run_config=agents.RunConfig(tracing_disabled=True)
        )
    finally:
        agents.set_default_openai_client(AsyncOpenAI(api_key="unused"), use_for_tracing=False)
    assert result.final_output == "echo (1 messages): hello"
