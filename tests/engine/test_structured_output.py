"""Structured output, the policy and the providers: the strict ``response_format`` an agent's
``output`` asks for, parsing and validating answers (JSON Schema and pydantic), the repair
message and the typed ``invalid_output`` error; the echo provider answering schema'd requests
offline; the real openai SDK sending ``response_format`` to an OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
from helpers.fake_openai import FakeOpenAI
from helpers.tickets import TICKET
from helpers.tickets import Ticket as BaseTicket
from pydantic import BaseModel

from vel_runner import Agent
from vel_runner.errors import InvalidInputError, InvalidOutputError, VelError
from vel_runner.providers import create_provider
from vel_runner.providers.echo_output import example
from vel_runner.structured_output import (
    OutputDefinitionError,
    OutputMismatch,
    OutputSpec,
    as_output_spec,
)
from vel_runner.tools.schema import strict_problems


class Ticket(BaseTicket):
    """A support ticket."""

    tags: list[str] = []


def test_a_schema_asks_for_a_strict_json_schema_response_format() -> None:
    spec = OutputSpec.from_schema(TICKET, name="ticket", description="One ticket.")
    assert spec.response_format() == {
        "type": "json_schema",
        "json_schema": {
            "name": "ticket",
            "schema": TICKET,
            "strict": True,
            "description": "One ticket.",
        },
    }
    assert OutputSpec.from_schema(TICKET).response_format()["json_schema"]["name"] == "output"


def test_answers_are_parsed_and_validated_naming_the_place_at_fault() -> None:
    spec = OutputSpec.from_schema(TICKET)
    good = spec.parse(' {"title": "Printer", "priority": "high"} ')
    assert good.value == good.typed == {"title": "Printer", "priority": "high"}
    fenced = spec.parse('```json\n{"title": "x", "priority": "low"}\n```')
    assert fenced.value == {"title": "x", "priority": "low"}  # servers that ignore the format
    cases = {
        '{"title": "x", "priority": "urgent"}': 'at priority: "urgent" is not one of "low"',
        '{"title": 7, "priority": "low"}': 'at title: 7 is not of type "string"',
        '{"title": "x"}': '"priority" is a required property',
        "Sure! Here it is": "the answer is not JSON",
        "  ": "the answer is empty",
        '{"title": NaN, "priority": "low"}': "NaN is not a JSON number",
    }
    for text, expected in cases.items():
        with pytest.raises(OutputMismatch, match=expected):
            spec.parse(text)


def test_a_pydantic_model_gives_a_strict_schema_and_typed_answers() -> None:
    spec = OutputSpec.from_model(Ticket)
    schema = spec.response_format()["json_schema"]
    assert schema["name"] == "Ticket" and schema["description"] == "A support ticket."
    assert schema["schema"]["required"] == ["title", "priority", "tags"]
    assert schema["schema"]["additionalProperties"] is False
    parsed = spec.parse('{"title": "t", "priority": "low", "tags": ["a"]}')
    assert parsed.typed == Ticket(title="t", priority="low", tags=["a"])
    assert parsed.value == {"title": "t", "priority": "low", "tags": ["a"]}
    with pytest.raises(OutputMismatch, match="at priority: Input should be 'low' or 'high'"):
        spec.parse('{"title": "t", "priority": "mid", "tags": []}')


def test_schemas_strict_mode_cannot_serve_are_refused_naming_each_problem() -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}}
    problems = strict_problems(loose)
    assert problems == [
        "b: a value of any type is not allowed in strict mode (give a type)",
        "the root object: strict mode needs additionalProperties: false on every object",
        "the root object: strict mode needs every property in required; missing a, b (for an "
        'optional one, allow null: type: [string, "null"])',
    ]
    assert strict_problems({"type": "array", "items": {"type": "string"}}) == [
        "the root must be an object (type: object) with properties"
    ]
    nested = {**TICKET, "properties": {**TICKET["properties"], "meta": {"type": "object"}}}
    nested["required"] = [*TICKET["required"], "meta"]
    assert "meta: a free-form object (dict)" in strict_problems(nested)[0]
    assert strict_problems(TICKET) == []
    with pytest.raises(OutputDefinitionError, match="does not fit OpenAI's strict mode"):
        OutputSpec.from_schema(loose)
    with pytest.raises(OutputDefinitionError, match="not a valid JSON Schema: properties/a/type"):
        OutputSpec.from_schema({**TICKET, "properties": {"a": {"type": "strng"}}})

    class Free(BaseModel):
        data: dict[str, int]

    with pytest.raises(OutputDefinitionError, match=r"Free does not fit .* data: a free-form"):
        OutputSpec.from_model(Free)
    with pytest.raises(OutputDefinitionError, match="must be 1-64 letters"):
        OutputSpec.from_schema(TICKET, name="two words")


def test_the_repair_message_and_the_error_say_what_was_wrong() -> None:
    spec = OutputSpec.from_schema(TICKET, name="ticket")
    try:
        spec.parse('{"title": "x", "priority": "urgent"}')
    except OutputMismatch as exc:
        problem = exc
    repair = spec.repair_message(problem)
    assert repair["role"] == "user"
    assert '"urgent" is not one of "low" or "high"' in repair["content"]
    assert "only the JSON that follows the ticket schema" in repair["content"]
    error = spec.failure(problem)
    assert isinstance(error, InvalidOutputError) and isinstance(error, VelError)
    assert (error.http_status, error.error_type) == (502, "invalid_output")
    assert "even after one repair attempt" in str(error) and "nothing was stored" in str(error)


def test_agent_output_takes_a_schema_a_model_or_nothing() -> None:
    assert Agent("a", {"provider": "echo", "model": "e"}).output is None
    by_schema = Agent("a", {"provider": "echo", "model": "e"}, output=TICKET)
    assert by_schema.output is not None and by_schema.output.schema == TICKET
    by_model = Agent("a", {"provider": "echo", "model": "e"}, output=Ticket)
    assert by_model.output is not None and by_model.output.model is Ticket
    spec = OutputSpec.from_schema(TICKET)
    assert as_output_spec(spec) is spec
    with pytest.raises(InvalidInputError, match="output type must be a pydantic BaseModel"):
        Agent("a", {"provider": "echo", "model": "e"}, output=int)
    with pytest.raises(InvalidInputError, match="must be a JSON Schema dict"):
        Agent("a", {"provider": "echo", "model": "e"}, output="ticket")


async def test_echo_answers_a_schema_with_valid_json_offline() -> None:
    echo = create_provider("echo")
    spec = OutputSpec.from_schema(TICKET)
    settings = {"response_format": spec.response_format()}
    user = [{"role": "user", "content": "The printer is on fire"}]
    whole = await echo.complete(user, model="e", settings=settings)
    assert spec.parse(whole.text).value == {
        "title": "echo (1 messages): The printer is on fire",
        "priority": "low",
    }
    streamed = "".join([c.delta async for c in echo.stream(user, model="e", settings=settings)])
    assert streamed == whole.text
    # a user message that is JSON is the answer as it is: how tests make the model miss
    scripted = [{"role": "user", "content": '{"title": 1}'}]
    assert (await echo.complete(scripted, model="e", settings=settings)).text == '{"title": 1}'
    plain = await echo.complete(user, model="e", settings={"response_format": {"type": "text"}})
    assert plain.text == "echo (1 messages): The printer is on fire"
    as_object = {"response_format": {"type": "json_object"}}
    answer = await echo.complete(user, model="e", settings=as_object)
    assert json.loads(answer.text) == {"echo": "echo (1 messages): The printer is on fire"}


def test_echo_builds_valid_values_for_every_shape_strict_mode_allows() -> None:
    spec = OutputSpec.from_model(Ticket)
    value = example(spec.schema, "hi", spec.schema)
    assert spec.parse(json.dumps(value)).typed == Ticket(title="hi", priority="low", tags=[])

    class Item(BaseModel):
        name: str
        count: int
        price: float | None
        done: bool

    class Order(BaseModel):
        items: list[Item]
        first: Item
        note: str | None

    order = OutputSpec.from_model(Order)
    value = example(order.schema, "x", order.schema)
    assert order.parse(json.dumps(value)).typed == Order(
        items=[], first=Item(name="x", count=0, price=0, done=False), note="x"
    )
    bounded = {
        "type": "object",
        "properties": {
            "code": {"type": "string", "minLength": 3, "maxLength": 4},
            "n": {"type": "integer", "minimum": 5},
            "k": {"const": "fixed"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
        "required": ["code", "n", "k", "tags"],
        "additionalProperties": False,
    }
    checked = OutputSpec.from_schema(bounded)
    assert checked.parse(json.dumps(example(bounded, "abcdef", bounded))).value == {
        "code": "abcd",
        "n": 5,
        "k": "fixed",
        "tags": ["abcdef", "abcdef"],
    }


async def test_the_openai_provider_sends_response_format_to_the_server(
    fake_openai: FakeOpenAI,
) -> None:
    provider = create_provider(
        "openai", api_key="sk-test", base_url=fake_openai.base_url, max_retries=0
    )
    spec = OutputSpec.from_schema(TICKET, name="ticket")
    settings = {"response_format": spec.response_format()}
    try:
        user = [{"role": "user", "content": '{"title": "t", "priority": "high"}'}]
        whole = await provider.complete(user, model="m", settings=settings)
        assert fake_openai.requests[-1]["response_format"] == spec.response_format()
        assert spec.parse(whole.text).value == {"title": "t", "priority": "high"}
        parts = [c.delta async for c in provider.stream(user, model="m", settings=settings)]
        request = fake_openai.requests[-1]
        assert request["stream"] is True and request["response_format"] == spec.response_format()
        assert "".join(parts) == whole.text
    finally:
        await provider.aclose()
