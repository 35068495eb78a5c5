"""Text no store or provider can carry (lone surrogates, NUL, NaN/Infinity) is refused at the
edge: ``InvalidInputError`` from the library, 422 from every route that takes text, on both
stores, before the model is called, and nothing is stored.

The agents use the openai provider against the fake OpenAI server, under a model name of
their own, so "the model was not called" is a check on the requests that server received.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from helpers.fake_openai import FakeOpenAI
from helpers.server import served_agents

from vel_runner import Agent
from vel_runner.errors import InvalidInputError
from vel_runner.messages import check_json
from vel_runner.storage import SessionStore, create_store

SECRET = "private words"

BAD_TEXT = [
    pytest.param(f"{SECRET} \udc00 after", "lone surrogate (U+DC00) at index 14", id="surrogate"),
    pytest.param(f"{SECRET} \ud83d after", "lone surrogate (U+D83D) at index 14", id="high-half"),
    pytest.param(f"{SECRET} \x00 after", "NUL character (U+0000) at index 14", id="nul"),
]
BAD_NUMBERS = [
    pytest.param(math.nan, "is nan", id="nan"),
    pytest.param(math.inf, "is inf", id="inf"),
    pytest.param(-math.inf, "is -inf", id="-inf"),
]


@pytest.fixture(params=["memory", "database"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        made = create_store("memory")
    else:
        made = create_store("database", dsn=request.getfixturevalue("fresh_postgres_dsn"))
    await made.open()
    yield made
    await made.close()


@pytest.fixture
def agent(store: SessionStore, fake_openai: FakeOpenAI) -> Agent:
    """An openai agent with a model name no other test uses."""
    model = {
        "provider": "openai",
        "model": f"edge-{uuid4().hex[:12]}",
        "api_key": "sk-edge-test",
        "base_url": fake_openai.base_url,
        "max_retries": 0,
    }
    return Agent("gpt", model=model, session_storage=store)


def model_calls(fake: FakeOpenAI, agent: Agent) -> int:
    return sum(1 for body in fake.requests if body.get("model") == agent.model_name)


async def assert_nothing_happened(agent: Agent, fake: FakeOpenAI) -> None:
    """Nothing stored, the model never called; then a good turn works (so both checks see)."""
    assert await agent.ctxmgr.alist_sessions() == []
    assert await agent.ctxmgr.aget_session("s") is None
    assert model_calls(fake, agent) == 0
    await agent.run("fine text", session_id="s")
    assert model_calls(fake, agent) == 1
    assert len(await agent.ctxmgr.aget_session_context("s")) == 2


def refused(exc: pytest.ExceptionInfo[InvalidInputError], where: str, problem: str) -> None:
    message = str(exc.value)
    assert message.startswith(f"{where} contains a") or message.startswith(f"{where} is")
    assert problem in message
    assert SECRET not in message  # the error names the place, never echoes the text


# -- the library ------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "problem"), BAD_TEXT)
async def test_library_refuses_bad_text_before_the_model(
    agent: Agent, fake_openai: FakeOpenAI, text: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as run:
        await agent.run({"message": text}, session_id="s")
    refused(run, "message", problem)
    with pytest.raises(InvalidInputError) as stream:
        agent.run_stream(text, session_id="s")
    refused(stream, "message", problem)
    with pytest.raises(InvalidInputError) as sid:
        await agent.run("hi", session_id=text)
    refused(sid, "session_id", problem)

    bad_messages: list[tuple[list[dict[str, Any]], str]] = [
        ([{"role": "user", "content": text}], "messages[0].content"),
        (
            [{"role": "user", "content": "ok"}, {"role": "user", "content": "b", "name": text}],
            "messages[1].name",
        ),
        (
            [{"role": "user", "content": [{"type": "text", "text": text}]}],
            "messages[0].content[0].text",
        ),
        ([{"role": "user", "content": "ok", "meta": {text: 1}}], "a key of messages[0].meta"),
    ]
    for messages, where in bad_messages:
        with pytest.raises(InvalidInputError) as setter:
            await agent.ctxmgr.aset_session_context("s", messages)
        refused(setter, where, problem)
        with pytest.raises(InvalidInputError) as sync_setter:
            agent.ctxmgr.set_session_context("s", messages)
        refused(sync_setter, where, problem)
    await assert_nothing_happened(agent, fake_openai)


@pytest.mark.parametrize(("number", "problem"), BAD_NUMBERS)
async def test_library_refuses_non_finite_numbers(
    agent: Agent, fake_openai: FakeOpenAI, number: float, problem: str
) -> None:
    messages = [{"role": "user", "content": "ok", "meta": {"scores": [1.5, number]}}]
    with pytest.raises(InvalidInputError) as setter:
        await agent.ctxmgr.aset_session_context("s", messages)
    refused(setter, "messages[0].meta.scores[1]", problem)
    with pytest.raises(InvalidInputError):
        agent.ctxmgr.set_session_context("s", messages)
    await assert_nothing_happened(agent, fake_openai)


def test_check_json_paths_and_types() -> None:
    check_json({"a": [1, 2.5, True, None, "ok", {"b": "é 😀"}]})  # fine JSON passes
    with pytest.raises(InvalidInputError, match=r"^\['odd key'\]\[0\] contains a NUL"):
        check_json({"odd key": ["\x00"]})
    with pytest.raises(InvalidInputError, match=r"^x has a key of type int"):
        check_json({"x": {1: "a"}})
    with pytest.raises(InvalidInputError, match=r"^x\[1\] is not JSON-serializable \(a set\)"):
        check_json({"x": [0, {1}]})
    deep: Any = "\udc00"
    for _ in range(5000):  # deeper than the recursion limit: still a clear error
        deep = [deep]
    with pytest.raises(InvalidInputError, match=r"^\[0\]\[0\][][0]*\.\.\. is nested more than 100"):
        check_json(deep)
    nested: Any = "\udc00"
    for _ in range(100):  # as deep as stored JSON may go: its text is checked
        nested = [nested]
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        check_json(nested)


def test_instructions_with_bad_text_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="instructions contains a NUL"):
        Agent("a", model={"provider": "echo", "model": "e"}, instructions="be \x00 nice")


# -- the server -------------------------------------------------------------------------------
def raw(body: dict[str, Any]) -> bytes:
    """JSON as a client may send it: surrogates as \\u escapes, NaN/Infinity as literals."""
    return json.dumps(body).encode()


def text_requests(text: str) -> list[tuple[str, str, dict[str, Any], dict[str, str], str]]:
    """(method, path, body, headers, field path) of every route that takes text."""
    run = {"message": text, "session_id": "s"}
    chat = {"model": "gpt", "messages": [{"role": "user", "content": text}]}
    parts = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    session = {"X-Session-Id": "s"}
    return [
        ("POST", "/v1/agents/gpt/runs", run, {}, "message"),
        ("POST", "/v1/agents/gpt/runs", {**run, "stream": True}, {}, "message"),
        ("POST", "/v1/agents/gpt/runs", run, {"accept": "text/event-stream"}, "message"),
        ("POST", "/v1/chat/completions", chat, session, "messages[0].content"),
        ("POST", "/v1/chat/completions", {**chat, "stream": True}, session, "messages[0].content"),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "gpt", "messages": parts},
            session,
            "messages[0].content[0].text",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"model": "gpt", "messages": [{"role": "system", "content": text}, *chat["messages"]]},
            session,
            "messages[0].content",
        ),
        (
            "PUT",
            "/v1/agents/gpt/sessions/s",
            {"messages": chat["messages"]},
            {},
            "messages[0].content",
        ),
        (
            "PUT",
            "/v1/agents/gpt/sessions/s",
            {"messages": [{"role": "user", "content": "ok", "metadata": {"note": text}}]},
            {},
            "messages[0].metadata.note",
        ),
        ("POST", "/v1/sessions/cleanup", {"older_than": text}, {}, "older_than"),
    ]


async def assert_422(
    http: httpx.AsyncClient, method: str, path: str, body: bytes, headers: dict[str, str]
) -> str:
    response = await http.request(
        method, path, content=body, headers={"content-type": "application/json", **headers}
    )
    assert response.status_code == 422, (method, path, response.text)
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    assert SECRET not in response.text
    return str(error["message"])


async def assert_server_stored_nothing(
    http: httpx.AsyncClient, agent: Agent, fake: FakeOpenAI
) -> None:
    assert (await http.get("/v1/agents/gpt/sessions/s")).status_code == 404
    assert (await http.get("/v1/sessions")).json()["total"] == 0
    await assert_nothing_happened(agent, fake)
    assert (await http.get("/v1/agents/gpt/sessions/s")).status_code == 200  # GET still works


@pytest.mark.parametrize(("text", "problem"), BAD_TEXT)
async def test_every_route_refuses_bad_text_with_422(
    agent: Agent, fake_openai: FakeOpenAI, text: str, problem: str
) -> None:
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        for method, path, body, headers, where in text_requests(text):
            message = await assert_422(http, method, path, raw(body), headers)
            assert message.startswith(f"{where} contains a") and problem in message, (path, body)
        await assert_server_stored_nothing(http, agent, fake_openai)


@pytest.mark.parametrize(("number", "problem"), BAD_NUMBERS)
async def test_every_route_refuses_non_finite_numbers_with_422(
    agent: Agent, fake_openai: FakeOpenAI, number: float, problem: str
) -> None:
    chat = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
    requests = [
        ("PUT", "/v1/agents/gpt/sessions/s", {"messages": [{**chat["messages"][0], "w": number}]}),
        ("POST", "/v1/chat/completions", {**chat, "temperature": number}),
        ("POST", "/v1/chat/completions", {**chat, "stream": True, "x": {"y": [number]}}),
        ("POST", "/v1/agents/gpt/runs", {"message": "hi", "session_id": "s", "n": number}),
        ("POST", "/v1/sessions/cleanup", {"older_than": number}),
    ]
    wheres = ["messages[0].w", "temperature", "x.y[0]", "n", "older_than"]
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        for (method, path, body), where in zip(requests, wheres, strict=True):
            message = await assert_422(http, method, path, raw(body), {"X-Session-Id": "s"})
            assert message == f"{where} {problem}; JSON numbers must be finite", (path, body)
        await assert_server_stored_nothing(http, agent, fake_openai)
