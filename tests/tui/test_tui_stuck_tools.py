"""The dashboard shows tool calls stuck past their timeout, under Textual's Pilot against a
real server: a sync tool that hangs holds its threads after its calls timed out, the agent's
row says how many (``N (M stuck)`` in "Tool calls"), and the count goes once they return."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from helpers.dashboard import dashboard
from helpers.live_server import API_KEY, LiveServer
from helpers.server import echo_agent
from helpers.waiting import pilot_until

from vel_runner import FunctionTool
from vel_runner.tools.threads import stuck_calls
from vel_runner.tui.agents_summary import COLUMNS, AgentsSummary
from vel_runner.tui.app import MonitorApp

RELEASE = threading.Event()


def hang() -> str:
    """Hangs until the test lets it go (far past its timeout)."""
    RELEASE.wait(60)
    return "late"


@pytest.fixture
def server() -> Iterator[LiveServer]:
    RELEASE.clear()
    tool = FunctionTool(hang, timeout=0.2, threads=2)
    live = LiveServer([echo_agent("ops", tools=[tool]), echo_agent("calm")], api_key=API_KEY)
    live.start()
    try:
        yield live
    finally:
        RELEASE.set()  # the hung threads end: nothing outlives the test
        live.close()


def tool_calls_cell(app: MonitorApp, agent: str) -> str:
    summary = app.screen.query_one(AgentsSummary)
    column = COLUMNS.index("Tool calls")
    for index in range(summary.row_count):
        row = summary.get_row_at(index)
        if row[0] == agent:
            return str(row[column])
    return ""


async def test_the_agent_row_counts_stuck_calls_until_they_return(server: LiveServer) -> None:
    """Two calls of a sync tool time out (their turns end with the timeout as the result)
    while their threads still run: the row reads ``2 (2 stuck)``; when the tool returns, it
    reads ``2``. An agent without tools shows none."""
    async with dashboard(server, size=(140, 32)) as (app, pilot):
        await pilot_until(pilot, lambda: tool_calls_cell(app, "ops") == "0")
        for session in ("s1", "s2"):
            answer = await asyncio.to_thread(server.turn, "ops", session, "/tool hang {}")
            assert "did not finish within" in answer
        assert stuck_calls().get("hang") == 2
        await pilot_until(pilot, lambda: tool_calls_cell(app, "ops") == "2 (2 stuck)", 15)
        assert tool_calls_cell(app, "calm") == "-"

        RELEASE.set()
        await pilot_until(pilot, lambda: not stuck_calls().get("hang"))
        await pilot_until(pilot, lambda: tool_calls_cell(app, "ops") == "2", 15)
