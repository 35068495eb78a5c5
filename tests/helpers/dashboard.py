"""The dashboard under Textual's Pilot against a :class:`~helpers.live_server.LiveServer`,
on its main screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.pilot import Pilot

from vel_runner.tui.app import MonitorApp
from vel_runner.tui.client import ApiClient
from vel_runner.tui.main_screen import MainScreen

from .live_server import API_KEY, LiveServer
from .waiting import pilot_until


@asynccontextmanager
async def dashboard(
    server: LiveServer, *, size: tuple[int, int] = (120, 32)
) -> AsyncIterator[tuple[MonitorApp, Pilot[None]]]:
    """The app (polling every 0.1 s, with the server's API key) once its main screen shows."""
    app = MonitorApp(ApiClient(server.url, api_key=API_KEY), refresh=0.1)
    async with app.run_test(size=size) as pilot:
        await pilot_until(pilot, lambda: isinstance(app.screen, MainScreen))
        yield app, pilot
