"""``x``: delete sessions inactive for longer than a duration the person types.

As the person types, a dry run (``POST /v1/sessions/cleanup`` with ``dry_run``) shows how
many sessions the duration would delete; the dialog then hands a :class:`CleanupPlan` to the
caller, which asks for confirmation before deleting anything.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from .api_types import MonitorError
from .client import ApiClient
from .durations import parse_duration

#: Wait this long after the last keystroke before asking the server for a count.
PREVIEW_DEBOUNCE = 0.25


@dataclass(frozen=True, slots=True)
class CleanupPlan:
    """What the person asked for and how many sessions it matched in the dry run."""

    older_than: str
    would_delete: int


class CleanupScreen(ModalScreen[CleanupPlan | None]):
    """Dismisses with a plan (Delete pressed after a successful count) or ``None``."""

    CSS_PATH = "cleanup_screen.tcss"
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, client: ApiClient, *, initial: str = "1h") -> None:
        super().__init__()
        self.client = client
        self.initial = initial
        self.plan: CleanupPlan | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Clean up inactive sessions", id="title")
            yield Static("Delete sessions inactive for at least:", id="prompt")
            yield Input(self.initial, placeholder="e.g. 30m, 1h, 7d", id="older-than")
            yield Static("", id="preview")
            with Horizontal(id="buttons"):
                yield Button("Delete…", variant="error", id="delete", disabled=True)
                yield Button("Cancel", variant="primary", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.preview(self.initial)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.preview(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._accept()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "delete":
            self._accept()
        else:
            self.dismiss(None)

    def _accept(self) -> None:
        if self.plan is not None and self.plan.older_than == self.query_one(Input).value.strip():
            self.dismiss(self.plan)

    def _show(self, message: str, plan: CleanupPlan | None, *, error: bool = False) -> None:
        self.plan = plan
        try:
            preview = self.query_one("#preview", Static)
            button = self.query_one("#delete", Button)
        except NoMatches:  # dismissed while a preview was counting: its widgets are gone
            return
        preview.update(message)
        preview.set_class(error, "error")
        button.disabled = plan is None or plan.would_delete == 0
        if plan is not None:
            button.label = f"Delete {plan.would_delete:,}…"

    @work(exclusive=True, group="cleanup-preview")
    async def preview(self, text: str) -> None:
        """Debounced dry run of ``text``; a newer keystroke cancels an older preview."""
        text = text.strip()
        try:
            parse_duration(text)
        except ValueError as error:
            self._show(str(error), None, error=True)
            return
        self._show("counting…", None)
        await asyncio.sleep(PREVIEW_DEBOUNCE)
        try:
            count = await self.client.cleanup(text, dry_run=True)
        except MonitorError as error:
            self._show(f"cannot count: {error}", None, error=True)
            return
        noun = "session" if count == 1 else "sessions"
        self._show(
            f"{count:,} {noun} inactive for at least {text} will be deleted.",
            CleanupPlan(text, count),
        )
