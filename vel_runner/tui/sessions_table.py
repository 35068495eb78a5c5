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

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from .api_types import SessionSummary
from .rows import (
    COLUMN_KEYS,
    COLUMNS,
    FIELDS,
    HEADERS,
    Clock,
    cell,
    cells,
    changed_columns,
    sort_value,
)

#: Above this many removals in one update, rebuilding the rows is cheaper than removing them.
REBUILD_THRESHOLD = 300
#: Fixed widths of the relative-time columns (their text changes as time passes).
WIDTHS = {"active": 12, "expires": 10}


class SessionsTable(DataTable[object]):
    """Sessions, one row each, keyed ``agent_id/session_id``; sortable by any column."""

    def __init__(self, clock: Clock, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.clock = clock
        self.sort_column = "agent"
        self.sort_reverse = False
        self._shown: dict[str, SessionSummary] = {}

    def on_mount(self) -> None:
        for key, header, _ in COLUMNS:
            self.add_column(header, key=key, width=WIDTHS.get(key))

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
        for key, header, _ in COLUMNS:
            arrow = (" ▼" if reverse else " ▲") if key == column else ""
            self.columns[ColumnKey(key)].label = Text(header + arrow)
        self._resort(self.cursor_key)

    def redraw_times(self) -> None:
        """Time moved on: redraw the visible relative times (one cell update invalidates the
        table's render cache; rows off screen cost nothing until they scroll into view)."""
        key = self.cursor_key
        if key is not None:
            self.update_cell(key, "active", cell(self._shown[key], "active", self.clock))

    def show(self, sessions: Mapping[str, SessionSummary]) -> None:
        """Make the rows match ``sessions`` (already filtered), touching only what changed."""
        keep = self.cursor_key
        removed = [key for key in self._shown if key not in sessions]
        if len(removed) > REBUILD_THRESHOLD:
            self._rebuild(sessions, keep)
            return
        for key in removed:
            del self._shown[key]
            self.remove_row(key)
        reorder = False
        sort_field = FIELDS[self.sort_column]
        for key, session in sessions.items():
            old = self._shown.get(key)
            if old is None:
                self.add_row(*cells(session, self.clock), key=key)
                reorder = True
            elif old is not session and old != session:
                for column in changed_columns(old, session):
                    self.update_cell(key, column, cell(session, column, self.clock))
                reorder = reorder or getattr(old, sort_field) != getattr(session, sort_field)
            self._shown[key] = session
        if reorder:
            self._resort(keep)
        elif removed:
            self._restore_cursor(keep)

    def _rebuild(self, sessions: Mapping[str, SessionSummary], keep: str | None) -> None:
        scroll_y = self.scroll_y
        self.clear()
        self._shown = dict(sessions)
        for key, session in sessions.items():
            self.add_row(*cells(session, self.clock), key=key)
        self._resort(keep)
        self.call_after_refresh(self.scroll_to, y=scroll_y, animate=False)

    def _resort(self, keep: str | None) -> None:
        shown, column = self._shown, self.sort_column

        def key(values: tuple[object, ...]) -> object:
            session = shown.get(f"{values[0]}/{values[1]}")
            return sort_value(session, column) if session else ()

        self.sort(key=key, reverse=self.sort_reverse)
        self._restore_cursor(keep)

    def _restore_cursor(self, keep: str | None) -> None:
        if keep is not None and keep in self._shown:
            self.move_cursor(row=self.get_row_index(keep), scroll=False)
