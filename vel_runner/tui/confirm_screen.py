"""The one confirmation dialog every destructive or consequential action goes through
(clearing a session, a cleanup, approving or denying a tool call).

Dismisses with ``True`` only on an explicit "yes" (the button or ``y``); Escape, ``n`` and
the Cancel button (focused by default, so a stray Enter cancels) give ``False``. With
``ask_reason`` it also offers an optional reason (Tab to it; Enter there confirms), read from
:attr:`ConfirmScreen.reason` once it is dismissed.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static
from textual.widgets.button import ButtonVariant


class ConfirmScreen(ModalScreen[bool]):
    """``push_screen(ConfirmScreen("Delete …?"), callback)`` -> ``callback(True|False)``."""

    CSS_PATH = "confirm_screen.tcss"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(
        self,
        question: str,
        *,
        confirm_label: str = "Delete",
        note: str = "This cannot be undone.",
        ask_reason: bool = False,
        confirm_variant: ButtonVariant = "error",
    ) -> None:
        super().__init__()
        self.question = question
        self.confirm_label = confirm_label
        self.note = note
        self.ask_reason = ask_reason
        self.confirm_variant = confirm_variant
        #: The reason typed (``ask_reason``), once dismissed with yes; ``None`` when empty.
        self.reason: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self.question, id="question", markup=False)
            yield Static(self.note, id="warning", markup=False)
            if self.ask_reason:
                yield Input(placeholder="reason (optional; Tab here, Enter confirms)", id="reason")
            with Horizontal(id="buttons"):
                yield Button(f"{self.confirm_label} (y)", variant=self.confirm_variant, id="yes")
                yield Button("Cancel (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "yes")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_answer(True)

    def action_answer(self, answer: bool) -> None:
        if answer and self.ask_reason:
            self.reason = self.query_one("#reason", Input).value.strip() or None
        self.dismiss(answer)
