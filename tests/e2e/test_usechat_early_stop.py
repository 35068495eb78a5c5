"""Issue 19: ``useChat``'s ``stop()`` BEFORE the first text delta keeps the question in the
chat. The real ``ai`` ``AbstractChat`` (tests/js_clients/usechat.mjs) against a real server,
whose model holds its first word until the turn is stopped: once the server's grace has
passed and it stopped the turn, the chat holds the user's question and no answer, and the
next message's model sees that question."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from helpers.node import run_node
from helpers.server import read_events, serving, stored_messages

from vel_runner import Agent
from vel_runner.messages import Message
from vel_runner.providers.base import Chunk
from vel_runner.providers.echo import EchoProvider
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

#: The server's resume grace for these tests (5 s by default): how long an answer without
#: readers waits for a resume before the server stops it.
GRACE = 0.3


class HeldFirstWord(EchoProvider):
    """The echo provider, except that a message saying "hold" never gets its first word: the
    model call waits until the turn is stopped (``cancelled`` says it was)."""

    def __init__(self) -> None:
        super().__init__()
        self.held = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def stream(
        self, messages: Sequence[Message], *, model: str, settings: Any
    ) -> AsyncIterator[Chunk]:
        if "hold" in str(messages[-1].get("content")):
            self.held.set()
            try:
                await asyncio.get_running_loop().create_future()  # never resolves
            finally:
                self.cancelled.set()
        async for chunk in super().stream(messages, model=model, settings=settings):
            yield chunk


@dataclass
class Served:
    url: str
    model: HeldFirstWord


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    model = HeldFirstWord()
    agent = Agent("gated", model={"provider": "echo", "model": "echo-1"}, provider=model)
    app = create_app(Runtime.from_agents([agent]))
    app.state.chat_streams.grace = GRACE
    async with serving(app) as url:
        yield Served(url, model)


def turn_finished(frames: list[dict[str, Any]]) -> bool:
    """A ``turn-finished`` event of the held chat is among the ``/v1/events`` frames."""
    return any(
        frame["event"] == "turn-finished"
        and json.loads(frame["data"]).get("session_id") == "chat-early"
        for frame in frames
    )


async def test_stop_before_the_first_word_keeps_the_question(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        frames: list[dict[str, Any]] = []
        connected = asyncio.Event()
        events = asyncio.create_task(
            read_events(http, frames, turn_finished, "/v1/events?turns=true", connected)
        )
        await asyncio.wait_for(connected.wait(), 10)
        try:
            result = await run_node("usechat.mjs", served.url, "stopBeforeFirstWord")
            # stopped while the page still waited for the first word
            assert result["statusAtStop"] == "submitted"
            stopped = result["stopped"]
            assert stopped["status"] == "ready" and stopped["error"] is None
            assert stopped["aborts"] == [True]
            assert [(m["role"], m["text"]) for m in stopped["messages"]] == [
                ("user", "hold on"),
                ("assistant", ""),
            ]
            assert served.model.held.is_set()
            # the server stops the answer after its grace (no reader came back), and the
            # turn ends: nothing was said, the question stays
            await asyncio.wait_for(served.model.cancelled.wait(), GRACE + 10)
            await asyncio.wait_for(events, 10)
        finally:
            events.cancel()
        stored = await stored_messages(served.url, "gated", "chat-early")
        assert [(m["role"], m["content"]) for m in stored] == [("user", "hold on")]
        assert stored[0]["id"] == stopped["messages"][0]["id"]
        loaded = (await http.get("/v1/agents/gated/chat/chat-early/messages")).json()
        assert [(m["role"], [p.get("text") for p in m["parts"]]) for m in loaded] == [
            ("user", ["hold on"])
        ]
        # read at once after stop(), before the grace: the question was there already
        assert [m["role"] for m in result["loaded"]] == ["user"]

    after = await run_node("usechat.mjs", served.url, "afterEarlyStop")
    assert [(m["role"], m["text"]) for m in after["messages"]] == [
        ("user", "hold on"),
        ("user", "next"),
        ("assistant", "echo (2 messages): next"),  # the model saw the held question
    ]
