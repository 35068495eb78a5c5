"""The HTTP API against a real uvicorn on a loopback port: every route, SSE, bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from helpers.server import echo_agent, parse_sse, read_events, served_agents, sse_json

from vel_runner import Agent, StatelessContextManager
from vel_runner.server.routes_sessions import encode_cursor


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    agents = [
        echo_agent("echo"),
        echo_agent("other", ttl=3600),
        echo_agent("nomem", context_manager=StatelessContextManager()),
    ]
    async with served_agents(*agents) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


async def run(client: httpx.AsyncClient, agent: str, message: str, sid: str | None = None) -> dict:
    response = await client.post(
        f"/v1/agents/{agent}/runs", json={"message": message, "session_id": sid}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_health_routes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["config_version"]


@pytest.mark.parametrize("freeze", [True, False])
async def test_the_heap_is_settled_once_started_only_when_asked(
    freeze: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled: list[bool] = []
    monkeypatch.setattr("vel_runner.server.app.settle_heap", lambda: settled.append(True))
    async with served_agents(echo_agent(), freeze_heap=freeze) as url, httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/healthz")).status_code == 200
        assert settled == ([True] if freeze else [])


async def test_agents_listing(client: httpx.AsyncClient) -> None:
    agents = (await client.get("/v1/agents")).json()["agents"]
    assert [a["id"] for a in agents] == ["echo", "nomem", "other"]
    assert agents[0] == {
        "id": "echo",
        "provider": "echo",
        "provider_type": "echo",
        "model": "echo-1",
        "store": "memory",
        "store_type": "memory",
        "context_mode": "full",
        "max_history": None,
        "ttl": None,
        "tools": [],
        "tool_calls": 0,
        "tool_errors": 0,
        "tools_unavailable": [],
        "tool_calls_stuck": {},
    }
    assert agents[1]["context_mode"] == "stateless" and agents[2]["ttl"] == 3600


async def test_agents_listing_never_shows_provider_keys(fake_openai) -> None:
    secret = "sk-live-very-secret-123"
    agent = Agent(
        "gpt",
        model={
            "provider": "openai",
            "model": "m",
            "api_key": secret,
            "base_url": fake_openai.base_url,
        },
    )
    async with served_agents(agent) as url, httpx.AsyncClient(base_url=url) as http:
        for path in ("/v1/agents", "/v1/config", "/v1/models", "/openapi.json"):
            response = await http.get(path)
            assert response.status_code == 200 and secret not in response.text


async def test_runs_keep_the_session(client: httpx.AsyncClient) -> None:
    first = await run(client, "echo", "hello", "s-1")
    assert first["output"] == "echo (1 messages): hello"
    assert first["session_id"] == "s-1" and first["run_id"]
    assert first["usage"]["total_tokens"] == first["usage"]["prompt_tokens"] + 4
    second = await run(client, "echo", "again", "s-1")
    assert second["output"] == "echo (3 messages): again"
    alone = await run(client, "echo", "no session")
    assert alone["session_id"] is None and alone["output"] == "echo (1 messages): no session"


@pytest.mark.parametrize("how", ["body", "accept"])
async def test_runs_stream_as_sse(client: httpx.AsyncClient, how: str) -> None:
    await run(client, "echo", "first", "s-2")
    body = {"message": "streamed", "session_id": "s-2"}
    headers = {}
    if how == "body":
        body["stream"] = True
    else:
        headers["accept"] = "text/event-stream"
    response = await client.post("/v1/agents/echo/runs", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    frames = parse_sse(response.text)
    assert frames[-1]["data"] == "[DONE]"
    events = sse_json(response.text)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["start", "start-step", "text-start"]
    assert kinds[-3:] == ["text-end", "finish-step", "finish"]
    text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
    assert text == "echo (3 messages): streamed"
    assert events[-1]["messageMetadata"]["sessionId"] == "s-2"
    stored = (await client.get("/v1/agents/echo/sessions/s-2")).json()
    assert stored["message_count"] == 4


async def test_sessions_listing_is_paginated_across_agents(client: httpx.AsyncClient) -> None:
    for agent, sid in [("echo", "b"), ("echo", "a"), ("other", "a"), ("echo", "c"), ("other", "z")]:
        await run(client, agent, "hi", sid)
    await run(client, "nomem", "not stored", "a")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/sessions", params=params)).json()
        assert page["total"] == 5 and len(page["sessions"]) <= 2
        seen += [(s["agent_id"], s["session_id"]) for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [("echo", "a"), ("echo", "b"), ("echo", "c"), ("other", "a"), ("other", "z")]
    one = (await client.get("/v1/sessions", params={"agent": "other"})).json()
    assert [s["session_id"] for s in one["sessions"]] == ["a", "z"] and one["total"] == 2
    row = one["sessions"][0]
    assert set(row) == {
        "agent_id",
        "session_id",
        "message_count",
        "created_at",
        "updated_at",
        "expires_at",
        "store",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "turns",
    }
    assert row["message_count"] == 2 and row["store"] == "memory" and row["expires_at"]
    idle = (await client.get("/v1/sessions", params={"older_than": "1h"})).json()
    assert idle == {"sessions": [], "next_cursor": None, "total": 0}
    resumed = await client.get("/v1/sessions", params={"cursor": encode_cursor("echo", "b")})
    assert [s["session_id"] for s in resumed.json()["sessions"]] == ["c", "a", "z"]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"older_than": "soon"}, 422, "soon"),
        ({"cursor": "not-a-cursor"}, 422, "cursor"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 10_001}, 422, "limit"),
        ({"agent": "ghost"}, 404, "ghost"),
    ],
)
async def test_sessions_listing_bad_input(
    client: httpx.AsyncClient, params: dict, status: int, needle: str
) -> None:
    response = await client.get("/v1/sessions", params=params)
    assert response.status_code == status
    assert needle in response.json()["error"]["message"]


async def test_session_get_set_clear(client: httpx.AsyncClient) -> None:
    path = "/v1/agents/echo/sessions/user@example.com"
    missing = await client.get(path)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    context = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "I am Alice"},
        {"role": "assistant", "content": "Hi Alice"},
    ]
    put = await client.put(path, json={"messages": context})
    assert put.status_code == 200
    assert put.json()["messages"] == context and put.json()["message_count"] == 3
    reply = await run(client, "echo", "who am I?", "user@example.com")
    assert reply["output"] == "echo (4 messages): who am I?"
    got = (await client.get(path)).json()
    assert got["message_count"] == 5 and got["summary"] is None
    assert got["messages"][-1]["content"] == reply["output"]
    bad = await client.put(path, json={"messages": [{"role": "wizard", "content": "x"}]})
    assert bad.status_code == 422 and "role" in bad.json()["error"]["message"]
    assert (await client.delete(path)).json() == {"deleted": True}
    assert (await client.delete(path)).json() == {"deleted": False}
    assert (await client.get(path)).status_code == 404


async def test_cleanup(client: httpx.AsyncClient) -> None:
    for sid in ("x", "y"):
        await run(client, "echo", "hi", sid)
    await run(client, "other", "hi", "x")
    url = "/v1/sessions/cleanup"
    assert (await client.post(url, json={"older_than": "1h"})).json() == {"deleted": 0}
    dry = await client.post(url, json={"older_than": "0s", "agent_id": "echo", "dry_run": True})
    assert dry.json() == {"would_delete": 2}
    assert (await client.get("/v1/sessions")).json()["total"] == 3
    done = await client.post(url, json={"older_than": 0, "agent_id": "echo"})
    assert done.json() == {"deleted": 2}
    assert (await client.get("/v1/sessions")).json()["total"] == 1
    bad = await client.post(url, json={"older_than": "forever"})
    assert bad.status_code == 422 and "forever" in bad.json()["error"]["message"]
    ghost = await client.post(url, json={"older_than": "1h", "agent_id": "ghost"})
    assert ghost.status_code == 404


async def test_config(client: httpx.AsyncClient) -> None:
    config = (await client.get("/v1/config")).json()
    assert config["version"] and config["loaded_at"].endswith("+00:00")
    assert config["files"] == [] and config["last_reload_error"] is None


async def test_events_stream_session_changes(client: httpx.AsyncClient) -> None:
    received: list[dict] = []

    connected = asyncio.Event()
    listener = asyncio.create_task(
        read_events(client, received, lambda f: len(f) >= 3, connected=connected)
    )
    await asyncio.wait_for(connected.wait(), 5)
    await run(client, "echo", "one", "ev")
    await run(client, "echo", "two", "ev")
    await client.delete("/v1/agents/echo/sessions/ev")
    await asyncio.wait_for(listener, 5)
    assert [f["event"] for f in received] == ["created", "updated", "cleared"]
    created = json.loads(received[0]["data"])
    assert created["agent_id"] == "echo" and created["session_id"] == "ev"
    assert created["message_count"] == 2 and created["store"] == "memory"
    assert json.loads(received[1]["data"])["message_count"] == 4
