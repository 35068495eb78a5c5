"""Bad request bodies get a 4xx naming the field, never a 500, and a client's error is never
reported as an outage: the Responses and Conversations bodies are pydantic models (OpenAI's
error shape, ``param`` set), every id is bounded (a 3,000-character id is a 400, not the 503
of a PostgreSQL index that refuses it), and a body nested past what the JSON parser takes is
refused by every route that reads a body and ignored by the others."""

from __future__ import annotations

import random
import string
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers.server import echo_agent, served_agents, stored_messages
from helpers.stores import STORE_KINDS, msg, opened_store

from vel_runner import Agent
from vel_runner.errors import InvalidInputError
from vel_runner.storage import SessionStore

#: Incompressible, as a client's random id would be: PostgreSQL's index takes a compressible
#: one of this length.
LONG_ID = "".join(random.Random(18).choices(string.ascii_letters + string.digits, k=3000))


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    async with opened_store(request.param, request) as opened:
        yield opened


@pytest.fixture
async def http(store: SessionStore) -> AsyncIterator[httpx.AsyncClient]:
    agents = [echo_agent("echo", session_storage=store), echo_agent("other")]
    async with served_agents(*agents) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


def user(content: Any, **fields: Any) -> dict[str, Any]:
    return {"role": "user", "content": content, **fields}


BAD_BODIES = [
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": [user([1, 2])]},
        "input[0].content[0]",
        "must be an object",
        id="content-numbers",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": [user(["text"])]},
        "input[0].content[0]",
        "must be an object",
        id="content-strings",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": [user(5)]},
        "input[0].content",
        "must be a string or a list of text parts",
        id="content-number",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": [user([{"type": "input_image", "image_url": "x"}])]},
        "input[0].content[0].type",
        "type 'input_image' is not supported",
        id="image-part",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": [{"type": "function_call_output", "output": "x"}]},
        "input[0].type",
        "type 'function_call_output' is not supported",
        id="item-type",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": [user("hi", id=LONG_ID)]},
        "input[0].id",
        "at most 256 characters",
        id="long-input-id",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": "hi", "previous_response_id": "resp_" + LONG_ID},
        "previous_response_id",
        "at most 261 characters",
        id="long-previous-id",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": "hi", "conversation": {"id": "not a session id"}},
        "conversation.id",
        "is invalid: 1-256 characters",
        id="conversation-id",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": "hi", "metadata": {"k": {"deep": 1}}},
        "metadata.k",
        "valid string",
        id="metadata-value",
    ),
    pytest.param(
        "/v1/responses",
        {"model": "echo", "input": {"role": "user"}},
        "input",
        "must be a string or a list of messages",
        id="input-object",
    ),
    pytest.param(
        "/v1/conversations",
        {"metadata": {"agent": {"x": 1}}},
        "metadata.agent",
        "valid string",
        id="conversation-agent",
    ),
    pytest.param(
        "/v1/conversations",
        {"items": [user("x", id=LONG_ID)], "metadata": {"agent": "echo"}},
        "items[0].id",
        "at most 256 characters",
        id="long-item-id",
    ),
]


@pytest.mark.parametrize(("path", "body", "param", "message"), BAD_BODIES)
async def test_bad_bodies_are_400s_naming_the_field(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], param: str, message: str
) -> None:
    response = await http.post(path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert message in error["message"]


async def test_long_ids_in_paths_and_queries_are_400s(http: httpx.AsyncClient) -> None:
    for method in ("GET", "DELETE"):
        response = await http.request(method, f"/v1/responses/resp_{LONG_ID}")
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "response_id"
    response = await http.get("/v1/conversations/c/items", params={"after": LONG_ID})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"
    response = await http.get("/v1/conversations/not%20an%20id")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "conversation_id"


async def test_good_bodies_still_work_and_store_nothing_when_refused(
    http: httpx.AsyncClient,
) -> None:
    refused = await http.post(
        "/v1/responses",
        json={"model": "echo", "conversation": "c", "input": [user("a"), user([1])]},
    )
    assert refused.status_code == 400
    assert await stored_messages(str(http.base_url), "echo", "c") == []
    parts = [{"type": "input_text", "text": "one "}, {"type": "text", "text": "two"}]
    body = {
        "model": "echo",
        "conversation": {"id": "c"},
        "input": [{"type": "message", "role": "developer", "content": "be kind"}, user(parts)],
        "metadata": {"team": "a"},
        "tools": [],  # other Responses fields are accepted and ignored
    }
    response = await http.post("/v1/responses", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {"team": "a"}
    stored = await stored_messages(str(http.base_url), "echo", "c")
    assert [m["content"] for m in stored][:2] == ["be kind", "one two"]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_deeply_nested_bodies_get_4xx_on_every_route(http: httpx.AsyncClient) -> None:
    """50,000 levels (past the JSON parser: a RecursionError) and 900 (parsed), in every
    position, on every route of the OpenAPI document."""
    document = (await http.get("/openapi.json")).json()
    fill = {"agent_id": "echo", "response_id": "resp_x", "conversation_id": "c", "chat_id": "c"}
    for depth in (50_000, 900):
        deep = nested(depth)
        bodies = [
            deep,
            f'{{"model": "echo", "input": {deep}}}',
            f'{{"model": "echo", "input": "hi", "extra": {deep}}}',
            f'{{"model": "echo", "input": [{{"role": "user", "content": "x", "status": {deep}}}]}}',
            f'{{"message": "hi", "session_id": "s", "x": {deep}}}',
            f'{{"items": [], "metadata": {{"agent": {deep}}}}}',
        ]
        for path, operations in document["paths"].items():
            if path == "/v1/events":
                continue
            url = path.format_map({**fill, "session_id": "s"})
            for method in operations:
                for body in bodies:
                    response = await http.request(
                        method, url, content=body, headers={"content-type": "application/json"}
                    )
                    assert response.status_code < 500, (depth, method, url, body[:60])
                    if response.status_code >= 400:
                        assert response.json()["error"]["message"]


async def test_a_long_message_id_is_the_callers_error_in_every_store(
    store: SessionStore, http: httpx.AsyncClient
) -> None:
    """Library and admin route alike: refused before anything is written (PostgreSQL's
    btree index would refuse the row, which read as 'database unavailable')."""
    agent = Agent("lib", {"provider": "echo", "model": "e"}, session_storage=store)
    with pytest.raises(InvalidInputError, match=r"messages\[0\].id is 3000 characters"):
        await agent.ctxmgr.aset_session_context("s", [msg("user", "hi", LONG_ID)])
    put = {"messages": [msg("user", "hi", LONG_ID)]}
    response = await http.put("/v1/agents/echo/sessions/s", json=put)
    assert response.status_code == 422
    assert "is 3000 characters long; the limit is 256" in response.json()["error"]["message"]
    assert await store.get("lib", "s") is None
    assert await store.get("echo", "s") is None


async def test_json_nested_too_deep_to_serve_again_is_not_stored(
    store: SessionStore, http: httpx.AsyncClient
) -> None:
    """300 levels parse, but no JSON encoder of the server writes them back: stored, the
    session would answer 500 for ever. Refused (422) before anything is written."""
    for depth in (101, 300):
        body = f'{{"messages": [{{"role": "user", "content": "x", "extra": {nested(depth)}}}]}}'
        response = await http.put(
            "/v1/agents/echo/sessions/deep",
            content=body,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert "nested more than 100 levels deep" in response.json()["error"]["message"]
        assert (await http.get("/v1/agents/echo/sessions/deep")).status_code == 404
    fine = f'{{"messages": [{{"role": "user", "content": "x", "extra": {nested(90)}}}]}}'
    response = await http.put(
        "/v1/agents/echo/sessions/deep", content=fine, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert (await http.get("/v1/agents/echo/sessions/deep")).status_code == 200
