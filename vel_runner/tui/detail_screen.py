"""Enter on a session: its messages, role by role, in a scrollable list."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from .api_types import MonitorError, SessionDetail
from .client import ApiClient
from .durations import timestamp

ROLE_STYLES = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}


def message_text(message: dict[str, Any]) -> Text:
    """``role`` in colour, then the content as plain text (never markup); an assistant's tool
    calls as ``→ name(arguments)``, a tool result with its call id (an error result in red)."""
    role = str(message.get("role", "?"))
    content = message.get("content")
    calls = message.get("tool_calls") if role == "assistant" else None
    text = Text()
    text.append(role, style=f"bold {ROLE_STYLES.get(role, 'white')}")
    if role == "tool":
        text.append(f"  result of {message.get('tool_call_id', '?')}", style="dim")
    text.append("\n")
    if calls and content is None:
        content = ""
    elif not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False, indent=2)
    text.append(content, style="red" if role == "tool" and is_error_result(content) else "")
    for index, call in enumerate(calls if isinstance(calls, list) else ()):
        function = (call.get("function") or {}) if isinstance(call, dict) else {}
        if content or index:
            text.append("\n")
        text.append(f"→ {function.get('name', '?')}", style="bold yellow")
        text.append(f"({function.get('arguments', '')})")
    return text


def is_error_result(content: str) -> bool:
    """A tool result the loop wrote for a failed call: ``{"error": ...}``."""
    if not content.startswith('{"error"'):
        return False
    try:
        return set(json.loads(content)) == {"error"}
    except ValueError:
        return False


def detail_title(detail: SessionDetail) -> Text:
    summary = detail.summary
    text = Text()
    text.append(f"{summary.agent_id} / {summary.session_id}", style="bold")
    text.append(
        f"   {summary.message_count} messages · store {summary.store} · created "
        f"{timestamp(summary.created_at)} · last active {timestamp(summary.updated_at)} · "
        f"expires {timestamp(summary.expires_at) if summary.expires_at else 'never'}"
    )
    if detail.running_summary:
        text.append("\nsummary of older messages: ", style="bold")
        text.append(detail.running_summary, style="italic")
    return text


class DetailScreen(Screen[None]):
    """Loads the session in a worker; Escape goes back, ``r`` reloads."""

    CSS_PATH = "detail_screen.tcss"
    BINDINGS = [
        Binding("escape,backspace", "app.pop_screen", "Back"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, client: ApiClient, agent_id: str, session_id: str) -> None:
        super().__init__()
        self.client = client
        self.agent_id = agent_id
        self.session_id = session_id

    def compose(self) -> ComposeResult:
        yield Static(f"{self.agent_id} / {self.session_id}", id="title", markup=False)
        yield VerticalScroll(Static("loading…", classes="note"), id="messages")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#messages").focus()
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="detail")
    async def load(self) -> None:
        """Fetch the session and show it; errors are shown in place of the messages."""
        container = self.query_one("#messages", VerticalScroll)
        try:
            detail = await self.client.session(self.agent_id, self.session_id)
        except MonitorError as error:
            await container.remove_children()
            await container.mount(Static(f"cannot load the session: {error}", classes="error"))
            return
        self.query_one("#title", Static).update(detail_title(detail))
        widgets = [
            Static(message_text(message), classes=f"message {message.get('role', '')}")
            for message in detail.messages
        ] or [Static("no messages", classes="note")]
        await container.remove_children()
        await container.mount_all(widgets)
