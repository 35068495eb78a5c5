"""The dashboard: status header, per-agent totals, the live sessions table and its actions.

Data comes from two workers: a refresh loop (a full listing whenever it is woken: by the
timer while live events are unavailable, by events it cannot apply itself, by ``r``) and an
events loop on ``/v1/events`` that patches rows as turns happen. Neither ever raises into
the app: a failed poll shows in the header and the last data stays on screen.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Protocol, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from .agents_summary import AgentsSummary
from .api_types import MonitorError, ServerEvent, ServerUnreachable, SessionSummary, Unauthorized
from .approvals_screen import ApprovalsScreen, pending_count
from .cleanup_screen import CleanupPlan, CleanupScreen
from .client import CONNECTED
from .confirm_screen import ConfirmScreen
from .detail_screen import DetailScreen
from .live_state import TURN_EVENTS, LiveState
from .palette import Command, DashboardCommands
from .rows import COLUMN_KEYS, COLUMNS, HEADERS
from .sessions_table import SessionsTable
from .status_header import Status, StatusHeader

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from .client import ApiClient

#: While live events flow, a full listing still runs every this many ticks (a safety net).
RESYNC_TICKS = 10
#: Coalesce bursts of events into one table update per this many seconds.
RENDER_DELAY = 0.1
FILTER_HINT = "filter by agent or session id — Enter keeps it, Esc clears"


class MonitorHost(Protocol):
    """What the main screen needs from its app (``MonitorApp``), named without importing it."""

    client: ApiClient
    clock: Callable[[], datetime]
    refresh_interval: float
    live_events: bool

    def settle_heap(self) -> None: ...

    def action_help(self) -> None: ...


class MainScreen(Screen[None]):
    """The main screen; its actions are also offered in the command palette."""

    CSS_PATH = "main_screen.tcss"
    BINDINGS = [
        Binding("enter", "open", "Open"),
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("c,delete", "clear_session", "Clear session"),
        Binding("x", "cleanup", "Clean up"),
        Binding("a", "approvals", "Approvals"),
        Binding("s", "next_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
        Binding("r", "refresh", "Refresh", show=False),
    ]

    COMMANDS = Screen.COMMANDS | {DashboardCommands}

    def __init__(self) -> None:
        super().__init__()
        self.live = LiveState()
        self.status = Status(url="")
        self.last_result = ""
        #: Tool calls waiting for a person (the header shows the count).
        self.approvals = 0
        self.events_connected = False
        self._wake = asyncio.Event()
        self._ticks = 0
        self._render_pending = False

    @property
    def host(self) -> MonitorHost:
        """The app, as far as this screen uses it."""
        return cast("MonitorHost", self.app)

    def palette_commands(self) -> list[Command]:
        """(title, help, callback) for every action, offered in the command palette."""
        commands: list[Command] = [
            ("Open session", "show the selected session's messages", self.action_open),
            (
                "Clear session",
                "delete the selected session (asks first)",
                self.action_clear_session,
            ),
            (
                "Clean up inactive sessions",
                "delete sessions inactive for longer than a duration (asks first)",
                self.action_cleanup,
            ),
            (
                "Approvals",
                "tool calls waiting for a person: approve or deny them",
                self.action_approvals,
            ),
            ("Filter sessions", "by agent or session id", self.action_filter),
            ("Clear filter", "show every session again", self.action_clear_filter),
            ("Refresh now", "fetch every session from the server", self.action_refresh),
            ("Reverse sort order", "flip the current sort", self.action_reverse_sort),
            ("Help", "list every key", self.host.action_help),
        ]
        for key, header, _ in COLUMNS:
            commands.append((f"Sort by {header}", "", partial(self.action_sort, key)))
        return commands

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield AgentsSummary(id="agents")
        yield Input(placeholder=FILTER_HINT, id="filter")
        yield SessionsTable(self.host.clock, id="sessions")
        yield Footer()

    @property
    def table(self) -> SessionsTable:
        return self.query_one(SessionsTable)

    def on_mount(self) -> None:
        self.status = Status(url=self.host.client.base_url)
        self.table.focus()
        self.render_all()
        self.wake()
        self.refresh_loop()
        if self.host.live_events:
            self.events_loop()
        self.set_interval(self.host.refresh_interval, self._tick)

    # -- data ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the refresh loop for a full listing (coalesced with one already pending)."""
        self._wake.set()

    def _tick(self) -> None:
        self._ticks += 1
        if not self.events_connected or self._ticks % RESYNC_TICKS == 0:
            self.wake()
        elif self.live.drop_expired(self.host.clock()):
            self.render_all()
        else:
            self.redraw_clock()

    def redraw_clock(self) -> None:
        """Time moved on, nothing else did: redraw the header and the visible times."""
        now = self.host.clock()
        self.query_one(StatusHeader).update_status(self.status, now)
        self.query_one(AgentsSummary).tick(self.live.stats, now)
        self.table.redraw_times()

    @work(group="refresh", exit_on_error=False)
    async def refresh_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.refresh_now()

    async def refresh_now(self) -> None:
        """One full listing; any failure becomes the header's state, never an exception."""
        client = self.host.client
        try:
            sessions, agents, config, self.approvals = await asyncio.gather(
                client.sessions(), client.agents(), client.config(), pending_count(client)
            )
        except Unauthorized as error:
            self._set_state("unauthorized", str(error))
        except ServerUnreachable as error:
            self._set_state("disconnected", str(error))
        except MonitorError as error:
            self._set_state("error", str(error))
        except Exception as error:  # a bug must not close the dashboard
            self.log.error("refresh failed", error)
            self._set_state("error", f"{type(error).__name__}: {error}")
        else:
            self.live.load(sessions, agents, config, self.host.clock())
            self._set_state("live" if self.events_connected else "polling", "")
            self.host.settle_heap()

    def _set_state(self, state: str, detail: str) -> None:
        last = self.live.last_data_at
        self.status = Status(self.status.url, state, detail, self.live.config, last, self.approvals)
        self.render_all()

    @work(group="events", exit_on_error=False)
    async def events_loop(self) -> None:
        delay = 1.0
        while True:
            try:
                async for event in self.host.client.events():
                    self.on_server_event(event)
                    delay = 1.0
            except MonitorError:
                pass  # the refresh loop reports why; keep retrying
            except Exception as error:
                self.log.error("event stream failed", error)
            if self.events_connected:
                self.events_connected = False
                self.live.stats.forget_running()
                self.wake()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def on_server_event(self, event: ServerEvent) -> None:
        if event.kind == CONNECTED:
            self.events_connected = True
            self.wake()  # catch up on what happened while the stream was down
        elif self.live.apply(event):
            self.wake()
        else:
            self.schedule_render()
        if event.session_key is not None and event.kind not in TURN_EVENTS:
            self.count_approvals()  # a turn may have asked for one, an answer settled one

    @work(exclusive=True, group="approvals-count", exit_on_error=False)
    async def count_approvals(self) -> None:
        """Count again once a burst of session events has passed (a newer event restarts
        the wait: one request per burst, not one per turn)."""
        await asyncio.sleep(RENDER_DELAY)
        try:
            self.approvals = await pending_count(self.host.client)
        except MonitorError:
            return  # the refresh loop reports an unreachable server
        self.render_all()

    # -- rendering ----------------------------------------------------------------------

    def schedule_render(self) -> None:
        if not self._render_pending:
            self._render_pending = True
            self.set_timer(RENDER_DELAY, self.render_all)

    def render_all(self) -> None:
        self._render_pending = False
        now = self.host.clock()
        self.live.drop_expired(now)  # expired sessions are never shown
        self.status = Status(
            self.status.url,
            self.status.state,
            self.status.detail,
            self.live.config,
            self.live.last_data_at,
            self.approvals,
        )
        self.query_one(StatusHeader).update_status(self.status, now)
        self.query_one(AgentsSummary).show(
            self.live.agents, self.live.sessions.values(), self.live.stats, now
        )
        visible = self.live.visible()
        table = self.table
        table.show(visible)
        table.redraw_times()
        arrow = "▼" if table.sort_reverse else "▲"
        title = f"Sessions: {len(visible):,}"
        if self.live.filter_text:
            title += f" of {len(self.live.sessions):,} matching {self.live.filter_text!r}"
        table.border_title = f"{title} · sorted by {HEADERS[table.sort_column]} {arrow}"
        table.border_subtitle = self.last_result

    # -- actions ------------------------------------------------------------------------

    def selected(self) -> SessionSummary | None:
        key = self.table.cursor_key
        return None if key is None else self.live.sessions.get(key)

    def action_open(self) -> None:
        session = self.selected()
        if session is not None:
            self.app.push_screen(
                DetailScreen(self.host.client, session.agent_id, session.session_id)
            )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.table.sort_by(str(event.column_key.value))
        self.render_all()

    def action_next_sort(self) -> None:
        index = (COLUMN_KEYS.index(self.table.sort_column) + 1) % len(COLUMN_KEYS)
        self.table.sort_by(COLUMN_KEYS[index], reverse=False)
        self.render_all()

    def action_reverse_sort(self) -> None:
        self.table.sort_by(self.table.sort_column, reverse=not self.table.sort_reverse)
        self.render_all()

    def action_sort(self, column: str) -> None:
        self.table.sort_by(column, reverse=False)
        self.render_all()

    def action_refresh(self) -> None:
        self.wake()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.live.filter_text = event.value.strip()
            self.render_all()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.display = bool(event.value.strip())
            self.table.focus()

    def action_clear_session(self) -> None:
        session = self.selected()
        if session is None:
            self.notify("No session selected.", severity="warning")
            return
        question = (
            f"Clear session {session.session_id!r} of agent {session.agent_id!r} "
            f"({session.message_count} messages)?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.clear_session(session)

        self.app.push_screen(ConfirmScreen(question, confirm_label="Clear"), answered)

    @work(group="actions", exit_on_error=False)
    async def clear_session(self, session: SessionSummary) -> None:
        try:
            deleted = await self.host.client.clear_session(session.agent_id, session.session_id)
        except MonitorError as error:
            self.report(f"Could not clear {session.key}: {error}", error=True)
            return
        self.live.sessions.pop(session.key, None)
        self.report(f"Cleared {session.key}." if deleted else f"{session.key} was already gone.")
        self.wake()

    def action_approvals(self) -> None:
        host = self.host
        self.app.push_screen(ApprovalsScreen(host.client, host.clock, host.refresh_interval))

    def action_cleanup(self) -> None:
        def planned(plan: CleanupPlan | None) -> None:
            if plan is None:
                return
            noun = "session" if plan.would_delete == 1 else "sessions"
            question = (
                f"Delete {plan.would_delete:,} {noun} inactive for at least {plan.older_than}?"
            )

            def answered(yes: bool | None) -> None:
                if yes:
                    self.cleanup(plan)

            self.app.push_screen(ConfirmScreen(question), answered)

        self.app.push_screen(CleanupScreen(self.host.client), planned)

    @work(group="actions", exit_on_error=False)
    async def cleanup(self, plan: CleanupPlan) -> None:
        try:
            deleted = await self.host.client.cleanup(plan.older_than)
        except MonitorError as error:
            self.report(f"Cleanup failed: {error}", error=True)
            return
        noun = "session" if deleted == 1 else "sessions"
        self.report(f"Deleted {deleted:,} {noun} inactive for at least {plan.older_than}.")
        self.wake()

    def report(self, message: str, *, error: bool = False) -> None:
        """Show an action's result: a toast, and the table's subtitle until the next one."""
        self.last_result = message
        self.notify(message, severity="error" if error else "information")
        self.render_all()
