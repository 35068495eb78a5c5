"""The live sessions table: updated in place from each fresh listing.

``show()`` diffs the new listing against what is on screen: new sessions become new rows,
changed cells are updated one by one, gone sessions are removed. The cursor stays on the
session it was on and the scroll offset stays put, so a person reading row 4,000 is not
thrown back to the top every second. (DataTable's ``remove_row`` is linear in the table
size, so removing thousands of rows at once — a big cleanup, a new filter — rebuilds the
rows instead, then restores the cursor's session and the scroll offset the same way.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from .api_types import SessionSummary
from .rows import COLUMN_KEYS, COLUMNS, HEADERS, cells, sort_value

#: Above this many removals in one update, rebuilding the rows is cheaper than removing them.
REBUILD_THRESHOLD = 300


class SessionsTable(DataTable[str]):
    """Sessions, one row each, keyed ``agent_id/session_id``; sortable by any column."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.sort_column = "agent"
        self.sort_reverse = False
        self._shown: dict[str, tuple[str, ...]] = {}
        self._sessions: Mapping[str, SessionSummary] = {}

    def on_mount(self) -> None:
        for key, header in COLUMNS:
            self.add_column(header, key=key)

    @property
    def cursor_key(self) -> str | None:
        """The row key (``agent/session``) under the cursor, if any."""
        if not self.row_count:
            return None
        row = min(self.cursor_row, self.row_count - 1)
        return self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value

    @property
    def shown_keys(self) -> list[str]:
        """Row keys in display order (for tests and the benchmark)."""
        return [row.key.value or "" for row in self.ordered_rows]

    def sort_by(self, column: str, *, reverse: bool | None = None) -> None:
        """Sort by ``column``; choosing the current column again flips the order."""
        if column not in HEADERS:
            raise ValueError(f"unknown column {column!r}; columns: {', '.join(COLUMN_KEYS)}")
        if reverse is None:
            reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_column, self.sort_reverse = column, reverse
        for key, header in COLUMNS:
            arrow = (" ▼" if reverse else " ▲") if key == column else ""
            self.columns[ColumnKey(key)].label = Text(header + arrow)
        self._resort(self.cursor_key)

    def show(self, sessions: Mapping[str, SessionSummary], now: datetime) -> None:
        """Make the rows match ``sessions`` (already filtered), touching only what changed."""
        keep = self.cursor_key
        self._sessions = sessions
        removed = [key for key in self._shown if key not in sessions]
        if len(removed) > REBUILD_THRESHOLD:
            self._rebuild(sessions, now, keep)
            return
        for key in removed:
            del self._shown[key]
            self.remove_row(key)
        reorder = False
        sort_index = COLUMN_KEYS.index(self.sort_column)
        for key, session in sessions.items():
            new = cells(session, now)
            old = self._shown.get(key)
            if old is None:
                self.add_row(*new, key=key)
                reorder = True
            elif old != new:
                for column, before, after in zip(COLUMN_KEYS, old, new, strict=True):
                    if before != after:
                        self.update_cell(key, column, after)
                reorder = reorder or old[sort_index] != new[sort_index]
            self._shown[key] = new
        if reorder:
            self._resort(keep)
        elif removed:
            self._restore_cursor(keep)

    def _rebuild(
        self, sessions: Mapping[str, SessionSummary], now: datetime, keep: str | None
    ) -> None:
        scroll_y = self.scroll_y
        self.clear()
        self._shown = {key: cells(session, now) for key, session in sessions.items()}
        for key, row in self._shown.items():
            self.add_row(*row, key=key)
        self._resort(keep)
        self.call_after_refresh(self.scroll_to, y=scroll_y, animate=False)

    def _resort(self, keep: str | None) -> None:
        sessions, column = self._sessions, self.sort_column

        def key(values: tuple[str, ...]) -> object:
            session = sessions.get(f"{values[0]}/{values[1]}")
            return sort_value(session, column) if session else ()

        self.sort(key=key, reverse=self.sort_reverse)
        self._restore_cursor(keep)

    def _restore_cursor(self, keep: str | None) -> None:
        if keep is not None and keep in self._shown:
            self.move_cursor(row=self.get_row_index(keep), scroll=False)
