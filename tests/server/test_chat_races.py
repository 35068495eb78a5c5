"""Stop and regenerate racing on one chat (issue 18, item 9): a refused regenerate leaves the
answer in flight alone, concurrent regenerates leave exactly one answer (memory and
PostgreSQL), and a stopped stream still ends as the protocol says (checked by the ``ai``
packages' own chunk schemas) without uvicorn complaining."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from helpers.node import SCHEMAS, node_harness
from helpers.server import served_agents, sse_json
from helpers.waiting import wait_until

from vel_runner import Agent
from vel_runner.storage.postgres import PostgresStore

WORDS = " ".join(f"w{n}" for n in range(12))


def body(chat: str, text: str = WORDS, **extra: Any) -> dict[str, Any]:
    message = {"id": f"u-{chat}", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": chat, "messages": [message], **extra}


def regenerate(chat: str, message_id: str | None) -> dict[str, Any]:
    extra: dict[str, Any] = {"trigger": "regenerate-message"}
    if message_id is not None:
        extra["messageId"] = message_id
    return body(chat, **extra)


class Complaints(logging.Handler):
    """What uvicorn logs about responses an app left unfinished."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def complaints() -> Iterator[Complaints]:
    handler = Complaints()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture(params=["memory", "postgres"])
async def url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    model = {"provider": "echo", "model": "echo-1", "delay": 0.05}
    if request.param == "memory":
        agent = Agent("slow", model=model)
        async with served_agents(agent) as base:
            yield base
        return
    dsn = request.getfixturevalue("fresh_postgres_dsn")
    store = PostgresStore(dsn)
    try:
        async with served_agents(Agent("slow", model=model, session_storage=store)) as base:
            yield base
    finally:
        await store.close()


async def stored(http: httpx.AsyncClient, chat: str) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/agents/slow/sessions/{chat}")
    return response.json()["messages"] if response.status_code == 200 else []


async def test_a_refused_regenerate_leaves_the_answer_in_flight_alone(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        frames: list[dict[str, Any]] = []

        async def read() -> None:
            async with http.stream("POST", "/v1/agents/slow/chat", json=body("r")) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {"):
                        frames.append(json.loads(line[6:]))

        reading = asyncio.create_task(read())
        await wait_until(lambda: any(f["type"] == "text-delta" for f in frames), what="a word")
        refused = await http.post("/v1/agents/slow/chat", json=regenerate("r", "no-such-id"))
        assert refused.status_code == 404 and "no-such-id" in refused.json()["error"]["message"]
        await reading
        assert frames[-1] == {
            "type": "finish",
            "finishReason": "stop",
            "messageMetadata": frames[-1]["messageMetadata"],
        }
        text = "".join(f["delta"] for f in frames if f["type"] == "text-delta")
        assert text == f"echo (1 messages): {WORDS}"
        messages = await stored(http, "r")
        assert messages[-1]["content"] == text and "metadata" not in messages[-1]


@pytest.mark.parametrize("named", [True, False], ids=["messageId", "no-messageId"])
async def test_concurrent_regenerates_leave_one_answer(url: str, named: bool) -> None:
    """A double (triple) click on Regenerate, in 20 chats: each keeps its question and
    exactly one answer, the last one that was started."""
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:

        async def trial(number: int) -> None:
            chat = f"c{number}"
            first = await http.post("/v1/agents/slow/chat", json=body(chat, "hello"))
            answer_id = sse_json(first.text)[0]["messageId"]
            again = regenerate(chat, answer_id if named else None)
            responses = await asyncio.gather(
                *(http.post("/v1/agents/slow/chat", json=again) for _ in range(3))
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == ([200, 404, 404] if named else [200, 200, 200]), statuses
            ok = [sse_json(r.text) for r in responses if r.status_code == 200]
            assert all(events[-1]["type"] == "finish" for events in ok)
            started = [events[0].get("messageId") for events in ok]
            messages = await stored(http, chat)
            assert [m["role"] for m in messages] == ["user", "assistant"], (number, messages)
            assert messages[0]["content"] == "hello"
            assert messages[1]["id"] in started
            assert messages[1]["content"] == "echo (1 messages): hello"

        # the 20 chats race at once (each on its own chat): the same races, side by side
        await asyncio.gather(*(trial(number) for number in range(20)))


async def test_a_stopped_stream_ends_with_finish_and_done(complaints: Complaints) -> None:
    agent = Agent("slow", model={"provider": "echo", "model": "echo-1", "delay": 0.05})
    async with served_agents(agent) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        posted: list[str] = []
        resumed: list[str] = []

        async def read(frames: list[str], method: str, path: str, **options: Any) -> None:
            async with http.stream(method, path, **options) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        frames.append(line[6:])

        readers = [
            asyncio.create_task(read(posted, "POST", "/v1/agents/slow/chat", json=body("s"))),
            asyncio.create_task(read(resumed, "GET", "/v1/agents/slow/chat/s/stream")),
        ]
        await wait_until(
            lambda: min(sum('"text-delta"' in f for f in fs) for fs in (posted, resumed)) >= 2,
            what="two words for both readers",
        )
        # a new message stops the answer in flight: both its readers see it end properly
        assert (await http.post("/v1/agents/slow/chat", json=body("s", "next"))).status_code == 200
        await asyncio.gather(*readers)
    assert posted == resumed
    assert posted[-1] == "[DONE]"
    events = [json.loads(f) for f in posted[:-1]]
    assert [e["type"] for e in events[-3:]] == ["text-end", "finish-step", "finish"]
    assert events[-1]["finishReason"] == "other"
    assert events[-1]["messageMetadata"] == {"sessionId": "s", "interrupted": True}
    assert not [line for line in complaints.lines if "without completing response" in line]
    node_harness(SCHEMAS)
    result = subprocess.run(
        ["node", "validate.mjs"],
        input=json.dumps(events), capture_output=True, text=True, cwd=SCHEMAS, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
