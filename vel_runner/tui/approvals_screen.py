"""``a``: the tool calls waiting for a person, and approving or denying them.

The list (agent, session, tool, arguments, age, expiry) is polled from ``GET /v1/approvals``,
so an approval answered elsewhere (another operator, a chat page, another host) leaves it
within a refresh. ``a`` approves and ``d`` denies the selected call, each after the one
confirmation dialog (with an optional reason); the answer goes through the runs API, the run
goes on on the server, and its outcome (the answer, or what still waits) shows here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from .api_types import ApprovalInfo, ErrorResponse, MonitorError
from .confirm_screen import ConfirmScreen
from .durations import ago, approx_duration

if TYPE_CHECKING:
    from collections.abc import Callable

    from .client import ApiClient

COLUMNS = (("agent", "Agent"), ("session", "Session"), ("tool", "Tool"), ("input", "Arguments"),
           ("age", "Age"), ("expires", "Expires"))  # fmt: skip
#: Arguments longer than this are cut in the table (the dialog shows them whole).
ARGUMENTS_SHOWN = 60


async def pending_count(client: ApiClient) -> int:
    """How many tool calls wait for a person (0 from a server without approvals)."""
    try:
        return len(await client.approvals())
    except ErrorResponse as error:
        if error.status == 404:
            return 0
        raise


def arguments_text(value: Any, limit: int | None = ARGUMENTS_SHOWN) -> str:
    """The call's arguments as compact JSON, cut to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def expires_text(approval: ApprovalInfo, now: datetime) -> str:
    if approval.expires_at is None:
        return "never"
    left = (approval.expires_at - now).total_seconds()
    return "expired" if left <= 0 else f"in {approx_duration(left)}"


class ApprovalsScreen(Screen[None]):
    """Pending approvals; ``a`` approve, ``d`` deny, ``r`` refresh, Escape back."""

    CSS_PATH = "approvals_screen.tcss"
    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("d", "deny", "Deny"),
        Binding("r", "reload", "Refresh"),
        Binding("escape,backspace", "app.pop_screen", "Back"),
    ]

    def __init__(
        self, client: ApiClient, clock: Callable[[], datetime], refresh: float = 1.0
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.refresh_seconds = refresh
        self.approvals: dict[str, ApprovalInfo] = {}
        #: The last answer's outcome, as shown under the table.
        self.outcome = ""
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static("Approvals waiting", id="title")
        table: DataTable[str | Text] = DataTable(id="approvals", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="outcome", markup=False)
        yield Footer()

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one("#approvals", DataTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.load()
        self.set_interval(self.refresh_seconds, self.load)

    def action_reload(self) -> None:
        self.load()

    @work(exclusive=True, group="approvals")
    async def load(self) -> None:
        """Fetch the pending approvals; a failure shows in the title, the rows stay."""
        try:
            found = await self.client.approvals()
        except MonitorError as error:
            found, problem = None, f"Approvals waiting — cannot load: {error}"
        try:
            if found is None:
                self.query_one("#title", Static).update(problem)
                return
            self.approvals = {approval.id: approval for approval in found}
            self.loaded = True
            self.render_rows()
        except NoMatches:  # the screen closed while the list was loading
            return

    def render_rows(self) -> None:
        table, now = self.table, self.clock()
        selected = self.selected()
        table.clear()
        for approval in self.approvals.values():
            table.add_row(
                Text(approval.agent_id),
                Text(approval.session_id),
                Text(approval.tool, style="bold yellow"),
                Text(arguments_text(approval.input)),
                ago(approval.requested_at, now),
                expires_text(approval, now),
                key=approval.id,
            )
        if selected is not None and selected.id in self.approvals:
            table.move_cursor(row=list(self.approvals).index(selected.id))
        count = len(self.approvals)
        title = f"Approvals waiting: {count}" if count else "No approvals waiting"
        self.query_one("#title", Static).update(title)

    def selected(self) -> ApprovalInfo | None:
        table = self.table
        if not self.approvals or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.approvals.get(str(key))

    def action_approve(self) -> None:
        self._ask(approved=True)

    def action_deny(self) -> None:
        self._ask(approved=False)

    def _ask(self, *, approved: bool) -> None:
        approval = self.selected()
        if approval is None:
            self.notify("No approval selected.", severity="warning")
            return
        verb = "Approve" if approved else "Deny"
        question = (
            f"{verb} {approval.tool}({arguments_text(approval.input, None)}) for session "
            f"{approval.session_id!r} of agent {approval.agent_id!r}?"
        )
        note = (
            "The call runs on the server as soon as you confirm; the model then goes on."
            if approved
            else "The call does not run; the model is told it was denied (and why)."
        )
        dialog = ConfirmScreen(
            question,
            confirm_label=verb,
            note=note,
            ask_reason=True,
            confirm_variant="success" if approved else "error",
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.answer(approval, approved, dialog.reason)

        self.app.push_screen(dialog, answered)

    @work(group="answers", exit_on_error=False)
    async def answer(self, approval: ApprovalInfo, approved: bool, reason: str | None) -> None:
        what = f"{approval.tool} in {approval.session_key}"
        self.show_outcome(f"{'Approving' if approved else 'Denying'} {what}…")
        try:
            outcome = await self.client.answer_approval(approval, approved=approved, reason=reason)
        except MonitorError as error:
            self.show_outcome(f"Could not answer {what}: {error}", error=True)
        else:
            done = "Approved" if approved else "Denied"
            if outcome.pending:
                more = len(outcome.pending)
                status = f"the run waits for {more} more approval{'s' if more > 1 else ''}"
            else:
                status = f"the run finished: {arguments_text(outcome.output, 120)}"
            self.show_outcome(f"{done} {what}; {status}")
        if self.is_attached:
            self.load()

    def show_outcome(self, message: str, *, error: bool = False) -> None:
        self.outcome = message
        if not message.endswith("…"):
            self.app.notify(message, severity="error" if error else "information")
        try:
            widget = self.query_one("#outcome", Static)
        except NoMatches:  # closed while the answer ran: the toast still says how it went
            return
        widget.update(message)
        widget.set_class(error, "error")
