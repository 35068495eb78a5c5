"""Answers in flight across connections: a reload resumes one, a tab closed for good stops it
(keeping the delivered part), and a database-backed server keeps response ids across restarts."""

from __future__ import annotations

import json
from typing import Any

import httpx
from helpers.server import served_agents, serving
from helpers.waiting import wait_until
from openai import AsyncOpenAI

from vel_runner import Agent
from vel_runner.protocols.ui_stream import UIMessageStream
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app
from vel_runner.server.streaming import TurnLease
from vel_runner.storage.postgres import PostgresStore

SLOW = {"provider": "echo", "model": "echo-1", "delay": 0.1}
WORDS = "one two three four five six seven eight"


def body(chat: str, text: str = WORDS) -> dict[str, Any]:
    return {"id": chat, "messages": [{"role": "user", "parts": [{"type": "text", "text": text}]}]}


async def read_deltas(response: httpx.Response, count: int) -> list[str]:
    deltas: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data: {"):
            event = json.loads(line.removeprefix("data: "))
            if event["type"] == "text-delta":
                deltas.append(event["delta"])
                if len(deltas) == count:
                    break
    return deltas


async def stored(http: httpx.AsyncClient, chat: str) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/agents/slow/sessions/{chat}")
    return response.json()["messages"] if response.status_code == 200 else []


async def test_a_reload_resumes_the_answer_after_the_first_connection_closed() -> None:
    app = create_app(Runtime.from_agents([Agent("slow", model=SLOW)]))
    app.state.chat_streams.grace = 5.0
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        async with http.stream("POST", "/v1/agents/slow/chat", json=body("reload")) as first:
            assert len(await read_deltas(first, 2)) == 2
        # the page reloads: the first connection is gone, the resume replays and follows
        response = await http.get("/v1/agents/slow/chat/reload/stream")
        events = [json.loads(f[6:]) for f in response.text.split("\n\n") if f.startswith("data: {")]
        text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
        assert events[0]["type"] == "start" and events[-1]["type"] == "finish"
        assert text == f"echo (1 messages): {WORDS}"
        assert (await http.get("/v1/agents/slow/chat/reload/stream")).status_code == 204
        messages = await stored(http, "reload")
        assert messages[1]["content"] == text and "metadata" not in messages[1]


async def test_a_closed_tab_stops_the_answer_after_the_grace_period() -> None:
    app = create_app(Runtime.from_agents([Agent("slow", model=SLOW)]))
    app.state.chat_streams.grace = 0.2
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        async with http.stream("POST", "/v1/agents/slow/chat", json=body("closed")) as first:
            deltas = await read_deltas(first, 3)
        await wait_until(lambda: stored(http, "closed"), what="the stopped answer stored")
        messages = await stored(http, "closed")
        assert messages[1]["content"] == "".join(deltas)
        assert messages[1]["metadata"] == {"interrupted": True}
        assert (await http.get("/v1/agents/slow/chat/closed/stream")).status_code == 204


async def test_response_ids_survive_a_restart_with_the_database_store(
    fresh_postgres_dsn: str,
) -> None:
    async def server_once(text: str, previous: str | None) -> Any:
        store = PostgresStore(fresh_postgres_dsn)
        agent = Agent("echo", model={"provider": "echo", "model": "e"}, session_storage=store)
        try:
            async with (
                served_agents(agent) as url,
                AsyncOpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0) as client,
            ):
                extra = {"previous_response_id": previous} if previous else {}
                return await client.responses.create(model="echo", input=text, **extra)
        finally:
            await store.close()

    first = await server_once("My name is Alice", None)
    second = await server_once("What is my name?", first.id)  # a new server process, say
    assert second.output_text == "echo (3 messages): What is my name?"


async def test_a_run_nobody_ever_reads_is_stopped_and_releases_its_agent() -> None:
    agent = Agent("slow", model=SLOW)
    runtime = Runtime.from_agents([agent])
    app = create_app(runtime)
    streams = app.state.chat_streams
    streams.grace = 0.05
    async with serving(app):
        held = TurnLease(*runtime.hold("slow"))
        encoder = UIMessageStream()
        frames = held.frames({"message": "hi"}, "never-read", encoder, "a test")
        run = await streams.start(agent, "never-read", frames, encoder)
        await wait_until(lambda: run.done and streams.get("slow", "never-read") is None)
        assert await agent.ctxmgr.aget_session_context("never-read") == []  # nothing delivered
