"""Bad input, failures and auth: clear 4xx/5xx in the contract's error shape, no secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from helpers.clock import FrozenClock
from helpers.server import echo_agent, served_agents, sse_json
from helpers.waiting import wait_until

from vel_runner import Agent
from vel_runner.server.bodies import MAX_HTTP_MESSAGE_CHARS
from vel_runner.storage import create_store
from vel_runner.storage.memory import MemoryStore

API_KEY = "vel-test-key-0123456789"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def client(clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    agent = echo_agent("echo", session_storage=MemoryStore(clock=clock))
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


def error_of(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == kind
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "invalid JSON"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"message": 5}', 422, "message"),
        (b'{"message": ""}', 422, "message"),
        (b'{"message": "   "}', 422, "empty"),
        (b'{"session_id": "s"}', 422, "message"),
        (b'{"message": "hi", "sesion_id": "s"}', 422, "sesion_id"),
        (b'{"message": "hi", "session_id": "has space"}', 422, "session_id"),
        (b'{"message": "hi", "session_id": "a/b"}', 422, "session_id"),
        (b'{"message": "hi", "session_id": ""}', 422, "session_id"),
        (b'{"message": "hi", "session_id": "' + b"x" * 257 + b'"}', 422, "session_id"),
        (b'{"message": "hi", "stream": "maybe"}', 422, "stream"),
    ],
)
async def test_bad_run_bodies(
    client: httpx.AsyncClient, body: bytes, status: int, needle: str
) -> None:
    response = await client.post(
        "/v1/agents/echo/runs", content=body, headers={"content-type": "application/json"}
    )
    assert needle in error_of(response, status, "invalid_request")


async def test_message_and_body_limits(client: httpx.AsyncClient) -> None:
    long = await client.post(
        "/v1/agents/echo/runs", json={"message": "x" * (MAX_HTTP_MESSAGE_CHARS + 1)}
    )
    assert "message" in error_of(long, 422, "invalid_request")
    huge = await client.post("/v1/agents/echo/runs", json={"message": "x" * 2_000_000})
    assert "limit" in error_of(huge, 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"message": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    streamed = await client.post("/v1/agents/echo/runs", content=chunks())
    error_of(streamed, 413, "payload_too_large")


async def test_not_found(client: httpx.AsyncClient) -> None:
    agent = await client.post("/v1/agents/ghost/runs", json={"message": "hi"})
    assert "ghost" in error_of(agent, 404, "not_found")
    assert "ghost" in error_of(await client.get("/v1/agents/ghost/sessions/s"), 404, "not_found")
    error_of(await client.get("/v1/nothing-here"), 404, "not_found")
    error_of(await client.delete("/v1/agents"), 405, "method_not_allowed")
    bad_sid = await client.get("/v1/agents/echo/sessions/" + "x" * 300)
    error_of(bad_sid, 422, "invalid_request")


async def test_provider_failure_is_502_and_stores_nothing(fake_openai, caplog) -> None:
    secret = "sk-must-not-leak-42"
    agent = Agent(
        "gpt",
        model={
            "provider": "openai",
            "model": "status-500",
            "api_key": secret,
            "base_url": fake_openai.base_url,
            "max_retries": 0,
        },
    )
    caplog.set_level(logging.DEBUG)
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url) as http:
        plain = await http.post("/v1/agents/gpt/runs", json={"message": "hi", "session_id": "s"})
        message = error_of(plain, 502, "provider_error")
        # words an end user can act on, and the id to quote; the detail is in the log only
        request_id = plain.headers["x-request-id"]
        assert message == f"the model provider failed (HTTP 500) (request id {request_id})"
        assert plain.json()["error"]["request_id"] == request_id
        assert "127.0.0.1" not in plain.text and "fake failure 500" not in plain.text
        assert "answered HTTP 500: fake failure 500" in caplog.text
        streamed = await http.post(
            "/v1/agents/gpt/runs", json={"message": "hi", "session_id": "s", "stream": True}
        )
        assert streamed.status_code == 200  # the failure happens after the stream started
        events = sse_json(streamed.text)
        assert events[0]["type"] == "start" and events[-3]["type"] == "error"
        # the stream says it as the JSON answer does (its own request id); the log has it all
        said = events[-3]["errorText"]
        assert said.startswith("the model provider failed (HTTP 500) (request id ")
        assert said.endswith(f"{streamed.headers['x-request-id']})")
        assert "fake failure 500" not in streamed.text
        assert [e["type"] for e in events[-2:]] == ["finish-step", "finish"]
        assert events[-1]["finishReason"] == "error"
        assert streamed.text.endswith("data: [DONE]\n\n")
        error_of(await http.get("/v1/agents/gpt/sessions/s"), 404, "not_found")
        assert (await http.get("/v1/sessions")).json()["total"] == 0
    assert secret not in caplog.text


async def test_database_down_is_503_and_the_failed_turn_stores_nothing(private_pg_server) -> None:
    store = create_store("database", dsn=private_pg_server.dsn, timeout=1, name="pg")
    agent = Agent("db", model={"provider": "echo", "model": "e"}, session_storage=store)
    body = {"message": "hi", "session_id": "s"}
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url, timeout=20) as http:
        assert (await http.post("/v1/agents/db/runs", json=body)).status_code == 200
        await asyncio.to_thread(private_pg_server.stop)
        try:
            turn = await http.post("/v1/agents/db/runs", json=body)
            assert "unavailable" in error_of(turn, 503, "store_unavailable")
            listing = await http.get("/v1/sessions")
            error_of(listing, 503, "store_unavailable")
            assert "pg" in error_of(await http.get("/readyz"), 503, "not_ready")
            assert (await http.get("/healthz")).status_code == 200
        finally:
            await asyncio.to_thread(private_pg_server.start)

        # the store reconnects by itself (the pool retries with a backoff): ready again soon
        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await wait_until(ready, 20, interval=0.1, what="the store to recover")
        again = await http.post("/v1/agents/db/runs", json=body)
        assert again.json()["output"] == "echo (3 messages): hi"  # the failed turn left nothing


async def test_api_key_guards_v1_only() -> None:
    async with served_agents(echo_agent(), api_key=API_KEY) as url:
        async with httpx.AsyncClient(base_url=url) as anonymous:
            assert (await anonymous.get("/healthz")).status_code == 200
            assert (await anonymous.get("/readyz")).status_code == 200
            for method, path in [
                ("GET", "/v1/agents"),
                ("POST", "/v1/agents/echo/runs"),
                ("GET", "/v1/sessions"),
                ("POST", "/v1/sessions/cleanup"),
                ("DELETE", "/v1/agents/echo/sessions/s"),
                ("GET", "/v1/events"),
                ("POST", "/v1/chat/completions"),
                ("GET", "/v1/models"),
            ]:
                response = await anonymous.request(method, path, json={"message": "hi"})
                message = error_of(response, 401, "unauthorized")
                assert API_KEY not in message
                assert response.headers["www-authenticate"] == "Bearer"
            wrong = await anonymous.get("/v1/agents", headers={"authorization": "Bearer nope"})
            error_of(wrong, 401, "unauthorized")
            basic = await anonymous.get("/v1/agents", headers={"authorization": API_KEY})
            error_of(basic, 401, "unauthorized")
        headers = {"authorization": f"Bearer {API_KEY}"}
        async with httpx.AsyncClient(base_url=url, headers=headers) as authorized:
            assert (await authorized.get("/v1/agents")).status_code == 200
            turn = await authorized.post("/v1/agents/echo/runs", json={"message": "hi"})
            assert turn.status_code == 200 and API_KEY not in turn.text


@pytest.mark.parametrize("older_than", [True, False])
async def test_cleanup_refuses_a_boolean_age(
    client: httpx.AsyncClient, clock: FrozenClock, older_than: bool
) -> None:
    # true once meant "1 second" and false "0": both deleted sessions
    await client.post("/v1/agents/echo/runs", json={"message": "hi", "session_id": "keep"})
    clock.advance(1.1)  # older than "1 second"
    for dry_run in (True, False):
        body = {"older_than": older_than, "dry_run": dry_run}
        response = await client.post("/v1/sessions/cleanup", json=body)
        message = error_of(response, 422, "invalid_request")
        assert message == "older_than: got a boolean, which is not a number"
    assert (await client.get("/v1/sessions")).json()["total"] == 1
    # numbers and duration strings still work
    for age in ("30d", 86400, 86400.5, "1h"):
        response = await client.post("/v1/sessions/cleanup", json={"older_than": age})
        assert response.json() == {"deleted": 0}, age


async def test_the_bearer_scheme_is_case_insensitive() -> None:
    async with served_agents(echo_agent(), api_key=API_KEY) as url, httpx.AsyncClient() as http:
        for value, status in [
            (f"Bearer {API_KEY}", 200),
            (f"bearer {API_KEY}", 200),
            (f"BEARER {API_KEY}", 200),
            (f"bEaReR  {API_KEY}", 200),
            (f"bearer {API_KEY.upper()}", 401),  # the key itself is case-sensitive
            (f"bearer{API_KEY}", 401),
            (f"Basic {API_KEY}", 401),
            ("bearer", 401),
            (f"Bearer {API_KEY}x", 401),
        ]:
            response = await http.get(f"{url}/v1/agents", headers={"authorization": value})
            assert response.status_code == status, value
            assert API_KEY not in response.text


def test_every_error_type_has_its_status() -> None:
    from vel_runner.errors import (
        InvalidInputError,
        ProviderError,
        SessionConflictError,
        StoreUnavailableError,
        TurnCancelledError,
        UnknownAgentError,
    )
    from vel_runner.server.errors import TYPE_BY_STATUS, status_of

    statuses = {
        UnknownAgentError("x"): 404,
        InvalidInputError("x"): 422,
        ProviderError("x"): 502,
        TurnCancelledError("x"): 502,
        StoreUnavailableError("x"): 503,
        SessionConflictError("x"): 409,
    }
    for error, status in statuses.items():
        assert status_of(error) == status, error
        assert status in TYPE_BY_STATUS
