"""``MonitorApp``: the Textual application behind ``vel-runner monitor``.

Small on purpose: it owns the API client, the clock (injectable, so snapshot tests freeze
time) and the global keys; the main screen does the work.
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from ..clock import Clock, utc_now
from ..heap import settle_heap
from .client import ApiClient
from .help_screen import HelpScreen
from .main_screen import MainScreen


def _key_name(key: str) -> str:
    names = {"slash": "/", "question_mark": "?", "escape": "Esc", "delete": "Delete"}
    return " / ".join(names.get(part, part) for part in key.split(","))


class MonitorApp(App[None]):
    """The dashboard of one server. ``live_events=False`` polls only (for benchmarks);
    ``freeze_heap=True`` (what ``vel-runner monitor`` uses) see :meth:`settle_heap`."""

    TITLE = "vel-runner monitor"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(
        self,
        client: ApiClient,
        *,
        refresh: float = 1.0,
        clock: Clock = utc_now,
        live_events: bool = True,
        freeze_heap: bool = False,
    ) -> None:
        super().__init__()
        self.client = client
        self.refresh_interval = refresh
        self.clock = clock
        self.live_events = live_events
        self.freeze_heap = freeze_heap
        self._heap_frozen = False

    def on_mount(self) -> None:
        self.push_screen(MainScreen())

    def settle_heap(self) -> None:
        """Once the first full listing is on screen (10,000 sessions make some 200,000 more
        long-lived objects), freeze the heap out of later full collections, each otherwise a
        visible stall (see :mod:`vel_runner.heap` and docs/performance.md)."""
        if self.freeze_heap and not self._heap_frozen:
            self._heap_frozen = True
            settle_heap()

    async def on_unmount(self) -> None:
        await self.client.aclose()

    def key_list(self) -> list[tuple[str, str]]:
        """(key, what it does) for every binding of the app and the main screen."""
        bindings = [*MainScreen.BINDINGS, *self.BINDINGS]
        return [(_key_name(b.key), b.description) for b in bindings if isinstance(b, Binding)]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_list()))
