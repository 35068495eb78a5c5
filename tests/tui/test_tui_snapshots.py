"""Snapshot tests (pytest-textual-snapshot) of the main screen, the detail screen and the
cleanup dialog: a real server with fixed session ids and times (a frozen store clock) and the
app on the same frozen clock, so the pictures are stable.

Update after an intended change:
``python -m pytest tests/tui/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from helpers.clock import FrozenClock
from helpers.live_server import LiveServer
from helpers.server import echo_agent
from helpers.waiting import pilot_until
from textual.pilot import Pilot
from textual.widgets import Input

from vel_runner import ContextManager
from vel_runner.storage.memory import MemoryStore
from vel_runner.tui.app import MonitorApp
from vel_runner.tui.cleanup_screen import CleanupScreen
from vel_runner.tui.client import ApiClient
from vel_runner.tui.detail_screen import DetailScreen
from vel_runner.tui.main_screen import MainScreen

#: What the header shows; requests go to the test server's real (random) port.
SHOWN_URL = "http://127.0.0.1:8000"
SIZE = (110, 30)

TURNS = [
    ("research", "tool-demo", '/tool lookup {"topic": "attention"}\n/tool lookup {"topic": ""}'),
    ("support", "user-42", "My order #1182 has not arrived yet."),
    ("support", "user-7", "How do I reset my password?"),
    ("support", "user-42", "It was shipped on Monday."),
    ("research", "paper-review", "Summarise the attention paper in one line."),
    ("support", "onboarding-3", "Hello!"),
    ("research", "paper-review", "Now list its three main results."),
]


def lookup(topic: str) -> str:
    """Looks a topic up (fails on an empty one, to show an error result)."""
    if not topic:
        raise ValueError("empty topic")
    return f"3 papers on {topic}"


class ToPort(httpx.AsyncBaseTransport):
    """Real HTTP to ``port``, whatever port the URL names (keeps the header text fixed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=self.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def server(clock: FrozenClock) -> Iterator[LiveServer]:
    agents = [
        echo_agent("support", ttl=3600, session_storage=MemoryStore(clock=clock)),
        echo_agent(
            "research",
            context_manager=ContextManager(max_history=10),
            session_storage=MemoryStore(clock=clock),
            tools=[lookup],
        ),
    ]
    live = LiveServer(agents, clock=clock)
    live.start()
    for agent_id, session_id, message in TURNS:
        live.turn(agent_id, session_id, message)
        clock.advance(95)
    yield live
    live.close()


def make_app(server: LiveServer, clock: FrozenClock) -> MonitorApp:
    client = ApiClient(SHOWN_URL, transport=ToPort(server.port))
    return MonitorApp(client, refresh=0.2, clock=clock, live_events=False)


def loaded(app: MonitorApp) -> Callable[[Pilot[None]], object]:
    async def wait(pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await pilot_until(pilot, lambda: screen.table.row_count == 5)
        await pilot.pause(0.1)

    return wait


def opened(app: MonitorApp, key: str, messages: int) -> Callable[[Pilot[None]], object]:
    """Open session ``key`` (``agent/session``) and wait for its ``messages``."""

    async def open_session(pilot: Pilot[None]) -> None:
        await loaded(app)(pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await pilot.press(*["down"] * screen.table.shown_keys.index(key), "enter")
        await pilot_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot_until(pilot, lambda: len(app.screen.query(".message")) == messages)

    return open_session


def test_main_screen(snap_compare, server: LiveServer, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(server, clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=loaded(app))


def test_detail_screen(snap_compare, server: LiveServer, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(server, clock)

    assert snap_compare(app, terminal_size=SIZE, run_before=opened(app, "support/user-42", 4))


def test_detail_screen_with_tool_calls(
    snap_compare, server: LiveServer, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    app = make_app(server, clock)

    assert snap_compare(app, terminal_size=SIZE, run_before=opened(app, "research/tool-demo", 5))


def test_cleanup_dialog(snap_compare, server: LiveServer, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(server, clock)

    async def open_dialog(pilot: Pilot[None]) -> None:
        await loaded(app)(pilot)
        await pilot.press("x")
        await pilot_until(pilot, lambda: isinstance(app.screen, CleanupScreen))
        dialog = app.screen
        assert isinstance(dialog, CleanupScreen)
        field = dialog.query_one(Input)
        field.cursor_blink = False  # a blinking cursor would make the picture depend on timing
        field.value = ""
        await pilot.press(*"5m")
        await pilot_until(pilot, lambda: dialog.plan is not None and dialog.plan.older_than == "5m")
        await asyncio.sleep(0)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_dialog)
