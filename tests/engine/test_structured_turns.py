"""Structured output in the library's turns: every model call asks for the agent's schema
(strict ``response_format``), ``TurnResult.object`` holds the parsed answer (a pydantic
instance for a ``type``), an invalid answer gets one repair attempt, and a second one fails
the turn with ``invalid_output`` and nothing stored. Streamed turns send the valid answer
only; tools and a schema work together (approvals too); a client's own ``response_format``
takes over."""

from __future__ import annotations

import json

import pytest
from helpers.scripted import Say, ScriptedProvider
from helpers.tickets import TICKET, Ticket

from vel_runner import Agent, FunctionTool
from vel_runner.errors import InvalidOutputError
from vel_runner.providers.base import Usage
from vel_runner.turn_options import TurnOptions


def lookup(order: str) -> str:
    """Find an order."""
    return f"order {order}: shipped Monday"


def scripted(
    *replies: Say, output: object = TICKET, **options: object
) -> tuple[Agent, ScriptedProvider]:
    provider = ScriptedProvider(*replies)
    agent = Agent(
        "triage", {"provider": "scripted", "model": "m"}, provider=provider, output=output,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip
    return agent, provider


async def test_echo_answers_with_the_schema_whole_and_streamed_alike() -> None:
    agent = Agent("triage", {"provider": "echo", "model": "e"}, output=TICKET)
    whole = await agent.run_turn("My printer is on fire", session_id="w")
    assert (
        whole.object
        == whole.object_json
        == {
            "title": "echo (1 messages): My printer is on fire",
            "priority": "low",
        }
    )
    assert json.loads(whole.output) == whole.object
    events = [e async for e in agent.run_stream("My printer is on fire", session_id="s")]
    streamed = "".join(e["delta"] for e in events if e["type"] == "text-delta")
    assert streamed == whole.output  # one delta, the valid JSON
    assert events[-1]["messageMetadata"]["object"] == whole.object
    stored = await agent.ctxmgr.aget_session_context("s")
    assert stored[-1]["content"] == whole.output


async def test_every_model_call_asks_for_the_schema_strictly() -> None:
    agent, provider = scripted(
        Say(calls=[("lookup", {"order": "42"})]),
        Say(['{"title": "Order 42", "priority": "high"}']),
        output=Ticket,
        tools=[lookup],
    )
    result = await agent.run_turn("where is order 42?", session_id="s")
    assert isinstance(result.object, Ticket) and result.object.priority == "high"
    assert result.object_json == {"title": "Order 42", "priority": "high"}
    formats = [settings["response_format"] for settings in provider.settings]
    assert len(formats) == 2 and all(f == formats[0] for f in formats)
    assert (
        formats[0]["json_schema"]["strict"] is True
        and formats[0]["json_schema"]["name"] == "Ticket"
    )
    assert provider.settings[0]["tools"]  # tools and a schema together
    assert provider.requests[1][-1]["content"] == "order 42: shipped Monday"


async def test_one_repair_attempt_with_the_validation_error() -> None:
    agent, provider = scripted(
        Say(['{"title": "Printer", "priority": "urgent"}'], usage=Usage(10, 5)),
        Say(['{"title": "Printer", "priority": "high"}'], usage=Usage(20, 6)),
    )
    result = await agent.run_turn("printer broke", session_id="s")
    assert result.object == {"title": "Printer", "priority": "high"}
    assert result.output == '{"title": "Printer", "priority": "high"}'
    assert result.usage == Usage(30, 11)  # the repair's tokens count
    repair = provider.requests[1]
    assert repair[-2] == {
        "role": "assistant",
        "content": '{"title": "Printer", "priority": "urgent"}',
    }
    assert '"urgent" is not one of "low" or "high"' in repair[-1]["content"]
    assert provider.settings[1].get("tool_choice") in (None, "none")
    stored = await agent.ctxmgr.aget_session_context("s")
    assert [m["content"] for m in stored] == ["printer broke", result.output]  # no failed try


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_second_invalid_answer_fails_and_stores_nothing(streamed: bool) -> None:
    agent, _ = scripted(Say(["Sure! Here it is"]), Say(['{"title": 3}']))
    if streamed:
        events = []
        with pytest.raises(InvalidOutputError, match="even after one repair attempt") as failed:
            async for event in agent.run_stream("printer broke", session_id="s"):
                events.append(event)
        kinds = [e["type"] for e in events]
        assert "text-delta" not in kinds  # no invalid answer was shown
        assert kinds[-3:] == ["error", "finish-step", "finish"]
    else:
        with pytest.raises(InvalidOutputError, match="even after one repair attempt") as failed:
            await agent.run_turn("printer broke", session_id="s")
    assert failed.value.http_status == 502 and failed.value.error_type == "invalid_output"
    assert 'at title: 3 is not of type "string"' in str(failed.value)
    assert await agent.ctxmgr.aget_session_context("s") == []


async def test_echo_with_tools_answers_in_the_schema_after_the_tool_step() -> None:
    agent = Agent("triage", {"provider": "echo", "model": "e"}, output=TICKET, tools=[lookup])
    result = await agent.run_turn('/tool lookup {"order": "42"}', session_id="s")
    assert result.object == {
        "title": "echo (3 messages): lookup -> order 42: shipped Monday",
        "priority": "low",
    }


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_call_waiting_for_approval_then_an_answer_in_the_schema(streamed: bool) -> None:
    """The turn that waits has no object (no answer yet); the one that answers the approval
    ends in the schema, the denial included."""
    tool = FunctionTool(lookup, approval="required")
    agent = Agent("triage", {"provider": "echo", "model": "e"}, output=TICKET, tools=[tool])
    asked = await agent.run_turn('/tool lookup {"order": "42"}', session_id="s")
    assert asked.status == "awaiting_approval" and asked.object is None and asked.output == ""
    answer = {"approvals": [asked.approvals[0].deny("not now")]}
    if streamed:
        events = [e async for e in agent.run_stream(answer, session_id="s")]
        found = events[-1]["messageMetadata"]["object"]
    else:
        found = (await agent.run_turn(answer, session_id="s")).object
    assert found["priority"] == "low"
    assert "a person denied this call" in found["title"] and "not now" in found["title"]


async def test_a_clients_own_response_format_takes_over() -> None:
    agent, provider = scripted(Say(["not json at all"]))
    own = {"type": "json_object"}
    result = await agent.run_turn("hi", options=TurnOptions(response_format=own))
    assert result.output == "not json at all" and result.object is None  # the client checks
    assert provider.settings[0]["response_format"] == own
