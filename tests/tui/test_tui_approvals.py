"""The dashboard's approvals, under Textual's Pilot against a real server: the header counts
the calls waiting for a person, ``a`` lists them (agent, session, tool, arguments, age), and
approving or denying goes through the one confirmation dialog, with an optional reason."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from helpers.approvals import waiting_step
from helpers.dashboard import dashboard
from helpers.live_server import API_KEY, LiveServer
from helpers.server import echo_agent
from helpers.waiting import pilot_until
from textual.pilot import Pilot
from textual.widgets import Input

from vel_runner import FunctionTool
from vel_runner.tools.base import ToolCall
from vel_runner.tui.app import MonitorApp
from vel_runner.tui.approvals_screen import ApprovalsScreen
from vel_runner.tui.confirm_screen import ConfirmScreen
from vel_runner.tui.status_header import StatusHeader

WIPES: list[str] = []


def wipe(path: str) -> str:
    """Wipe a path."""
    WIPES.append(path)
    return f"wiped {path}"


TOOL = FunctionTool(wipe, approval="required")
SPECS = {TOOL.spec.name: TOOL.spec}


def waiting(session: str, path: str) -> list[dict[str, object]]:
    call = ToolCall(f"call_{session}", "wipe", f'{{"path": "{path}"}}')
    return waiting_step([call], SPECS, user=f"wipe {path}")


@pytest.fixture
def server() -> Iterator[LiveServer]:
    live = LiveServer([echo_agent("ops", tools=[TOOL])], api_key=API_KEY)
    live.start()
    live.call(live.agents["ops"].ctxmgr.aset_session_context("s1", waiting("s1", "/srv/a")))
    yield live
    live.close()


def header(app: MonitorApp) -> str:
    return str(app.screen.query_one(StatusHeader).render())


def approvals_screen(app: MonitorApp) -> ApprovalsScreen:
    screen = app.screen
    assert isinstance(screen, ApprovalsScreen)
    return screen


async def open_approvals(app: MonitorApp, pilot: Pilot[None], rows: int = 1) -> ApprovalsScreen:
    """``a`` on the main screen, until the list shows ``rows`` approvals."""
    await pilot.press("a")
    await pilot_until(pilot, lambda: isinstance(app.screen, ApprovalsScreen))
    screen = approvals_screen(app)
    await pilot_until(pilot, lambda: screen.table.row_count == rows)
    return screen


async def confirm(app: MonitorApp, pilot: Pilot[None], key: str) -> ConfirmScreen:
    """Press ``key`` (a or d) in the list, until the confirmation dialog is up."""
    await pilot.press(key)
    await pilot_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    dialog = app.screen
    assert isinstance(dialog, ConfirmScreen)
    return dialog


async def test_waiting_calls_are_counted_and_listed(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        await pilot_until(pilot, lambda: "1 approval waiting (a)" in header(app))
        # a new request shows up live (a session event makes the header count again)
        store = server.agents["ops"].ctxmgr
        await asyncio.to_thread(
            server.call, store.aset_session_context("s2", waiting("s2", "/srv/b"))
        )
        await pilot_until(pilot, lambda: "2 approvals waiting (a)" in header(app))
        screen = await open_approvals(app, pilot, rows=2)
        row = [str(cell) for cell in screen.table.get_row_at(0)]
        assert row[:4] == ["ops", "s1", "wipe", '{"path": "/srv/a"}']
        assert row[4].endswith("ago") and row[5] == "never"
        assert "Approvals waiting: 2" in str(screen.query_one("#title").render())


async def test_deny_asks_first_with_an_optional_reason(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        screen = await open_approvals(app, pilot)
        dialog = await confirm(app, pilot, "d")
        assert dialog.question == (
            "Deny wipe({\"path\": \"/srv/a\"}) for session 's1' of agent 'ops'?"
        )
        await pilot.press("tab", *"not today")
        assert dialog.query_one("#reason", Input).value == "not today"
        await pilot.press("escape")  # changed their mind: nothing is answered
        await pilot_until(pilot, lambda: isinstance(app.screen, ApprovalsScreen))
        await pilot.pause(0.3)
        assert screen.table.row_count == 1 and screen.outcome == ""
        assert WIPES == []


async def test_approve_runs_the_call_and_the_outcome_shows(server: LiveServer) -> None:
    WIPES.clear()
    async with dashboard(server) as (app, pilot):
        screen = await open_approvals(app, pilot)
        await confirm(app, pilot, "a")
        await pilot.press("y")
        await pilot_until(pilot, lambda: screen.outcome.startswith("Approved"))
        assert screen.outcome == (
            "Approved wipe in ops/s1; the run finished: echo (3 messages): wipe -> wiped /srv/a"
        )
        await pilot_until(pilot, lambda: screen.table.row_count == 0)
        assert "No approvals waiting" in str(screen.query_one("#title").render())
        assert WIPES == ["/srv/a"]
        stored = await asyncio.to_thread(
            server.call, server.agents["ops"].ctxmgr.aget_session_context("s1")
        )
        assert stored[-1]["content"] == "echo (3 messages): wipe -> wiped /srv/a"


async def test_deny_with_a_reason_reaches_the_model(server: LiveServer) -> None:
    WIPES.clear()
    async with dashboard(server) as (app, pilot):
        screen = await open_approvals(app, pilot)
        await confirm(app, pilot, "d")
        await pilot.press("tab", *"prod data", "enter")  # Enter in the reason confirms
        await pilot_until(pilot, lambda: screen.outcome.startswith("Denied"))
        assert "reason: prod data" in screen.outcome and WIPES == []


async def test_an_approval_answered_elsewhere_shows_the_conflict(server: LiveServer) -> None:
    async with dashboard(server) as (app, pilot):
        screen = await open_approvals(app, pilot)
        selected = screen.selected()
        assert selected is not None
        agent = server.agents["ops"]  # another operator answers first, through the library
        answer = {"approvals": [{"id": selected.id, "approved": False}]}
        await asyncio.to_thread(server.call, agent.run_turn(answer, session_id="s1"))
        await confirm(app, pilot, "a")
        await pilot.press("y")
        await pilot_until(pilot, lambda: screen.outcome.startswith("Could not answer"))
        assert "already answered" in screen.outcome and "HTTP 409" in screen.outcome
        await pilot_until(pilot, lambda: screen.table.row_count == 0)
