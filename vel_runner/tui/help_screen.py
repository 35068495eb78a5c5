"""``?``: every key of the dashboard, in one modal list."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

#: Keys handled by widgets (the table, the palette) rather than by our bindings.
BUILTIN_KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ PgUp PgDn Home End", "move through the sessions"),
    ("click a column header", "sort by that column (again: reverse)"),
    ("ctrl+p", "command palette: every action by name"),
)


def key_table(keys: Sequence[tuple[str, str]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, description in keys:
        table.add_row(key, description)
    return table


class HelpScreen(ModalScreen[None]):
    """The keys passed in (the caller collects them from its bindings), plus the built-ins."""

    CSS_PATH = "help_screen.tcss"
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = [*keys, *BUILTIN_KEYS]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Keys", id="title")
            yield Static(key_table(self.keys), id="keys")
            yield Static("Escape or ? closes this help.", id="hint")
