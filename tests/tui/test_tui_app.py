"""The dashboard driven by Textual's Pilot against a real server with real sessions."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from helpers.clock import FrozenClock
from helpers.live_server import API_KEY, LiveServer, make_server
from helpers.waiting import loop_passes, pilot_until
from rich.text import Text
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Input, Static

from vel_runner.tui.agents_summary import AgentsSummary
from vel_runner.tui.app import MonitorApp
from vel_runner.tui.cleanup_screen import CleanupScreen
from vel_runner.tui.client import ApiClient
from vel_runner.tui.confirm_screen import ConfirmScreen
from vel_runner.tui.detail_screen import DetailScreen
from vel_runner.tui.help_screen import HelpScreen
from vel_runner.tui.main_screen import MainScreen
from vel_runner.tui.status_header import StatusHeader

SESSIONS = {"alpha": ["a1", "a2"], "beta": ["b1"]}


@pytest.fixture
def server() -> Iterator[LiveServer]:
    live = make_server(SESSIONS, api_key=API_KEY)
    yield live
    live.close()


class Recorded(httpx.AsyncBaseTransport):
    """The dashboard's requests to the server: what a test waits for (a listing done), and
    what shows that a refused action asked the server nothing."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.asked: list[tuple[str, str, bytes]] = []
        self.answered: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append((request.method, request.url.path, request.content))
        response = await self.inner.handle_async_request(request)
        self.answered.append((request.method, request.url.path))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def listings(self) -> int:
        """Full listings answered (``GET /v1/sessions``)."""
        return self.answered.count(("GET", "/v1/sessions"))

    def changes(self) -> list[tuple[str, str, bytes]]:
        """Requests that change sessions (a cleanup's dry run only counts)."""
        return [
            (method, path, body)
            for method, path, body in self.asked
            if method == "DELETE" or (method == "POST" and not json.loads(body).get("dry_run"))
        ]


async def settled(pilot: Pilot[None]) -> None:
    """The app has handled what is pending, and the work it started has begun."""
    await pilot.pause()
    await loop_passes()


async def listings_done(pilot: Pilot[None], recorded: Recorded, count: int) -> None:
    """Until ``count`` more full listings were answered: the one before the last is on screen
    by then (the refresh loop lists one at a time)."""
    target = recorded.listings() + count
    await pilot_until(pilot, lambda: recorded.listings() >= target)


@asynccontextmanager
async def dashboard(
    server: LiveServer,
    *,
    api_key: str = API_KEY,
    clock: FrozenClock | None = None,
    recorded: Recorded | None = None,
) -> AsyncIterator[tuple[MonitorApp, Pilot[None]]]:
    options = {"clock": clock} if clock else {}
    client = ApiClient(server.url, api_key=api_key, transport=recorded)
    app = MonitorApp(client, refresh=0.1, **options)
    async with app.run_test(size=(120, 32)) as pilot:
        await pilot_until(pilot, lambda: main(app).status.state != "connecting")
        yield app, pilot


def main(app: MonitorApp) -> MainScreen:
    screen = app.screen_stack[1] if len(app.screen_stack) > 1 else app.screen
    assert isinstance(screen, MainScreen)
    return screen


def rows(app: MonitorApp) -> dict[str, str]:
    """Row key -> message count cell, in display order."""
    table = main(app).table
    return {key: str(table.get_row(key)[2]) for key in table.shown_keys}


def header_text(app: MonitorApp) -> str:
    return str(main(app).query_one(StatusHeader).render())


async def test_table_shows_sessions_and_per_agent_counts(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        assert rows(app) == {"alpha/a1": "4", "alpha/a2": "4", "beta/b1": "4"}
        summary = main(app).query_one(AgentsSummary)
        assert [summary.get_row_at(i)[:3] for i in range(summary.row_count)] == [
            ["alpha", "2", "8"],
            ["beta", "1", "4"],
        ]
        await pilot_until(pilot, lambda: main(app).status.state == "live")
        text = header_text(app)
        assert server.url in text and "connected" in text and API_KEY not in text
        assert main(app).status.config is not None
        assert main(app).status.config.version[:12] in text


async def test_new_turns_appear_live_and_the_cursor_stays(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot.press("down")
        assert main(app).table.cursor_key == "alpha/a2"
        await asyncio.to_thread(server.turn, "alpha", "a1")
        await pilot_until(pilot, lambda: rows(app)["alpha/a1"] == "6")
        await asyncio.to_thread(server.turn, "alpha", "a0")  # sorts above the cursor
        await pilot_until(pilot, lambda: "alpha/a0" in rows(app))
        assert list(rows(app)) == ["alpha/a0", "alpha/a1", "alpha/a2", "beta/b1"]
        assert main(app).table.cursor_key == "alpha/a2"


async def test_clear_asks_first_and_removes_only_after_yes(server: LiveServer) -> None:
    recorded = Recorded()
    async with dashboard(server, recorded=recorded) as (app, pilot):
        await pilot.press("c")
        await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await pilot_until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settled(pilot)
        assert recorded.changes() == [] and server.count("alpha") == 2
        assert "alpha/a1" in rows(app)
        await pilot.press("delete")
        await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # Cancel has the focus: a stray Enter deletes nothing
        await pilot_until(pilot, lambda: isinstance(app.screen, MainScreen))
        await settled(pilot)
        assert recorded.changes() == [] and server.count("alpha") == 2
        await pilot.press("c")
        await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await pilot_until(pilot, lambda: "alpha/a1" not in rows(app))
        assert server.count("alpha") == 1
        assert main(app).last_result == "Cleared alpha/a1."


async def _open_cleanup(app: MonitorApp, pilot: Pilot[None], duration: str) -> CleanupScreen:
    await pilot.press("x")
    await pilot_until(pilot, lambda: isinstance(app.screen, CleanupScreen))
    dialog = app.screen
    assert isinstance(dialog, CleanupScreen)
    dialog.query_one(Input).value = ""
    await pilot.press(*duration)
    await pilot_until(pilot, lambda: dialog.plan is not None and dialog.plan.older_than == duration)
    return dialog


async def test_cleanup_counts_first_then_deletes_only_after_confirmation() -> None:
    clock = FrozenClock()  # a1 idle 5 min, a2 idle 3 min, b1 idle 1 min
    server = make_server(SESSIONS, api_key=API_KEY, clock=clock)
    recorded = Recorded()
    try:
        async with dashboard(server, clock=clock, recorded=recorded) as (app, pilot):
            dialog = await _open_cleanup(app, pilot, "2m")
            preview = str(dialog.query_one("#preview", Static).render())
            assert preview == "2 sessions inactive for at least 2m will be deleted."
            await pilot.press("enter")
            await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "Delete 2 sessions inactive for at least 2m?" in str(
                app.screen.query_one("#question", Static).render()
            )
            await pilot.press("escape")
            await pilot_until(pilot, lambda: isinstance(app.screen, MainScreen))
            await settled(pilot)
            assert recorded.changes() == []
            assert len(rows(app)) == 3 and server.count("alpha") == 2

            await _open_cleanup(app, pilot, "2m")
            await pilot.press("enter")
            await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await pilot_until(pilot, lambda: list(rows(app)) == ["beta/b1"])
            assert server.count("alpha") == 0 and server.count("beta") == 1
            assert main(app).last_result == "Deleted 2 sessions inactive for at least 2m."
    finally:
        server.close()


async def test_cleanup_dialog_rejects_a_bad_duration(server: LiveServer) -> None:
    recorded = Recorded()
    async with dashboard(server, recorded=recorded) as (app, pilot):
        await pilot.press("x")
        await pilot_until(pilot, lambda: isinstance(app.screen, CleanupScreen))
        dialog = app.screen
        dialog.query_one(Input).value = "soon"
        preview = dialog.query_one("#preview")
        await pilot_until(pilot, lambda: "invalid duration" in str(preview.render()))
        await pilot.press("enter")
        await settled(pilot)
        assert app.screen is dialog and recorded.changes() == []
        assert server.count("alpha") == 2


async def test_enter_opens_the_session_role_by_role(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot.press("down", "down", "enter")
        await pilot_until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot_until(pilot, lambda: len(app.screen.query(".message")) == 4)
        texts = [str(widget.render()) for widget in app.screen.query(".message")]
        assert texts[0] == "user\nhello from b1"
        assert texts[1].startswith("assistant\n") and "hello from b1" in texts[1]
        assert texts[2] == "user\nand again"
        assert "beta / b1" in str(app.screen.query_one("#title", Static).render())
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_slash_filters_by_agent_or_session_id(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot.press("slash", "b", "e")
        await pilot_until(pilot, lambda: list(rows(app)) == ["beta/b1"])
        assert "of 3 matching 'be'" in str(main(app).table.border_title)
        await pilot.press("enter")  # keeps the filter, back to the table
        assert main(app).table.has_focus
        await asyncio.to_thread(server.turn, "alpha", "a3")
        await asyncio.to_thread(server.turn, "beta", "b2")
        await pilot_until(pilot, lambda: list(rows(app)) == ["beta/b1", "beta/b2"])
        await pilot.press("slash", "backspace", "backspace", "a", "2")
        await pilot_until(pilot, lambda: list(rows(app)) == ["alpha/a2"])
        await pilot.press("escape")
        await pilot_until(pilot, lambda: len(rows(app)) == 5)


async def test_sorting_by_any_column(server: LiveServer) -> None:
    await asyncio.to_thread(server.turn, "alpha", "a1")  # a1 now has 6 messages
    async with dashboard(server) as (app, pilot):
        assert list(rows(app)) == ["alpha/a1", "alpha/a2", "beta/b1"]
        await pilot.press("S")  # reverse
        assert list(rows(app)) == ["beta/b1", "alpha/a2", "alpha/a1"]
        await pilot.press("s", "s")  # agent -> session -> messages
        assert main(app).table.sort_column == "messages"
        assert list(rows(app)) == ["alpha/a2", "beta/b1", "alpha/a1"]
        main(app).action_sort("active")
        assert list(rows(app)) == ["alpha/a2", "beta/b1", "alpha/a1"]
        await pilot.click("#sessions", offset=(10, 1))  # the Session column's header
        assert main(app).table.sort_column == "session"
        assert list(rows(app)) == ["alpha/a1", "alpha/a2", "beta/b1"]


async def test_disconnect_keeps_the_data_and_reconnects(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot.press("down")
        server.stop()
        await pilot_until(pilot, lambda: main(app).status.state == "disconnected")
        assert "disconnected, retrying" in header_text(app)
        assert "showing data from" in header_text(app)
        assert list(rows(app)) == ["alpha/a1", "alpha/a2", "beta/b1"]
        assert main(app).table.cursor_key == "alpha/a2"
        server.start()
        await pilot_until(pilot, lambda: main(app).status.state == "live")
        await asyncio.to_thread(server.turn, "beta", "b2")
        await pilot_until(pilot, lambda: "beta/b2" in rows(app))
        assert main(app).table.cursor_key == "alpha/a2"


async def test_wrong_api_key_is_a_clear_message_not_a_crash(server: LiveServer) -> None:
    recorded = Recorded()
    async with dashboard(server, api_key="not-the-key", recorded=recorded) as (app, pilot):
        assert main(app).status.state == "unauthorized"
        text = header_text(app)
        assert "wrong API key" in text and "--api-key" in text and "not-the-key" not in text
        await listings_done(pilot, recorded, 3)  # polls keep failing; the app keeps running
        assert app.is_running and rows(app) == {}


async def test_help_lists_every_key(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot.press("question_mark")
        await pilot_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        listed = {key for key, _ in app.screen.keys}
        assert {"/", "c / Delete", "x", "s", "S", "r", "enter", "q", "?", "ctrl+p"} <= listed
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_command_palette_runs_the_actions(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot.press("ctrl+p")
        await pilot.press(*"clean up")

        def offered() -> bool:
            hits = app.screen.query(CommandList)
            return bool(hits) and hits.first().option_count == 1

        await pilot_until(pilot, offered)
        await pilot.press("enter")
        await pilot_until(pilot, lambda: isinstance(app.screen, CleanupScreen))
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen) and server.count("alpha") == 2


async def test_markup_in_ids_shows_as_written(server: LiveServer) -> None:
    session_id = "[bold]x[/bold] \\[y]"
    server.turn("alpha", session_id)
    async with dashboard(server) as (app, pilot):
        key = f"alpha/{session_id}"
        await pilot_until(pilot, lambda: key in rows(app))
        cell = main(app).table.get_cell(key, "session")  # a str cell is markup to DataTable
        assert Text.from_markup(cell).plain == session_id


async def test_the_heap_is_frozen_once_after_the_first_listing(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    freezes: list[int] = []
    real_freeze = gc.freeze
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(1) or real_freeze())
    recorded = Recorded()
    client = ApiClient(server.url, api_key=API_KEY, transport=recorded)
    app = MonitorApp(client, refresh=0.1, freeze_heap=True)
    try:
        async with app.run_test(size=(120, 32)) as pilot:
            await pilot_until(pilot, lambda: len(rows(app)) == 3)
            assert freezes == [1] and gc.get_freeze_count() > 0
            server.turn("beta", "b2")  # a new session: another full listing
            await pilot_until(pilot, lambda: "beta/b2" in rows(app))
            await listings_done(pilot, recorded, 1)  # and another full listing
            assert freezes == [1]
    finally:
        gc.unfreeze()


async def test_expired_sessions_leave_the_table_even_before_the_server_sweeps() -> None:
    from datetime import UTC, datetime

    server = make_server({"alpha": ["a1"], "beta": ["b1"]}, api_key=API_KEY, ttl=600)
    recorded = Recorded()
    try:
        clock = FrozenClock(datetime.now(UTC))
        async with dashboard(server, clock=clock, recorded=recorded) as (app, pilot):
            await pilot_until(pilot, lambda: len(rows(app)) == 2)
            clock.advance(601)  # for the server they are still live (its clock did not move)
            await pilot_until(pilot, lambda: rows(app) == {}, timeout=1)
            # a full listing (every 10 ticks) brings them back: no
            await listings_done(pilot, recorded, 2)
            assert rows(app) == {}
            assert "Sessions: 0" in str(main(app).table.border_title)
    finally:
        server.close()


async def test_rates_show_the_turns_that_ran_before_the_dashboard_connected(
    server: LiveServer,
) -> None:
    async with dashboard(server) as (app, pilot):
        summary = main(app).query_one(AgentsSummary)
        header = [str(c.label) for c in summary.columns.values()]

        def turns_per_min() -> dict[str, str]:
            by_agent = [dict(zip(header, summary.get_row_at(i), strict=True)) for i in (0, 1)]
            return {row["Agent"]: row["Turns/min"] for row in by_agent}

        await pilot_until(pilot, lambda: main(app).status.state == "live")
        # two turns per session ran before it connected (alpha: two sessions)
        await pilot_until(pilot, lambda: turns_per_min() == {"alpha": "4", "beta": "2"})
        row = dict(zip(header, summary.get_row_at(0), strict=True))
        assert row["Errors"] == "0%" and row["p50"].endswith(" ms") and row["Tok/min"] != "0"


async def test_live_turns_update_agent_numbers_marks_and_token_sort(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot_until(pilot, lambda: main(app).status.state == "live")
        summary = main(app).query_one(AgentsSummary)
        header = [str(c.label) for c in summary.columns.values()]
        running = header.index("Running")
        slow = server.agents["beta"]
        slow.provider.delay = 0.5  # type: ignore[attr-defined]
        try:
            turn = asyncio.create_task(asyncio.to_thread(server.turn, "beta", "b1", "a long one"))
            table = main(app).table
            await pilot_until(pilot, lambda: str(table.get_cell("beta/b1", "turning")) == "⏵")
            assert summary.get_row_at(1)[running] == "1"
            await turn
        finally:
            slow.provider.delay = 0.0  # type: ignore[attr-defined]
        await pilot_until(pilot, lambda: str(table.get_cell("beta/b1", "turning")) == "")
        row = dict(zip(header, summary.get_row_at(1), strict=True))
        # the fixture's two turns, sent as recent history on connect, and the live one
        assert row["Agent"] == "beta" and row["Turns/min"] == "3" and row["Running"] == "0"
        assert row["Errors"] == "0%" and row["p50"].endswith(" ms") and row["Tok/min"] != "0"
        # two turns from the fixture; a listing that raced the turn may lag for one resync
        await pilot_until(pilot, lambda: main(app).live.sessions["beta/b1"].turns == 3)
        main(app).action_sort("tokens")
        main(app).action_reverse_sort()
        assert next(iter(rows(app))) == "beta/b1"  # the most tokens first
