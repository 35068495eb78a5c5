"""How one turn may differ from a plain one (``Agent.run_turn(..., options=TurnOptions(...))``),
the shape of a stored answer, and what a stream delivered (for an answer stopped midway).
The chat and Responses routes need these options; library users rarely do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import events
from .messages import Message


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """How a turn differs from a plain one (the chat and Responses routes need these)."""

    #: Added to the agent's own instructions for this turn only.
    instructions: str | None = None
    #: Earlier messages of a conversation the session does not hold yet (a client that sends
    #: its history): the model sees them before the user message, and they are stored with it.
    history: Sequence[Message] = ()
    #: Answer the session's last message (a user message) again instead of adding one.
    regenerate: bool = False
    #: The id to store the user message under (default: none; answers always have one).
    user_id: str | None = None
    #: Store the user message even when the turn fails or is stopped before its answer began,
    #: as chat apps do (the chat route): the question stays where the user saw it.
    keep_input: bool = False


PLAIN = TurnOptions()


def answer_message(run_id: str, text: str, *, interrupted: bool = False) -> Message:
    """The assistant message a turn stores: under the turn's run id, marked when interrupted."""
    message: Message = {"role": "assistant", "content": text, "id": run_id}
    if interrupted:
        message["metadata"] = {"interrupted": True}
    return message


class Delivered:
    """The answer's text a stream's consumer took (the deltas since the last ``start-step``)."""

    __slots__ = ("open_text", "parts", "pending")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = ""  # handed to the consumer, counted once it asks for the next event
        self.open_text: str | None = None  # the id of a text part not ended yet

    def track(self, event: events.Event) -> None:
        """Note an event about to be handed to the consumer."""
        kind = event["type"]
        if kind == "start-step":
            self.parts.clear()  # a finished tool step's text is in its stored message
        elif kind == "text-start":
            self.open_text = event["id"]
        elif kind == "text-end":
            self.open_text = None
        elif kind == "text-delta":
            self.pending = event["delta"]

    def took(self) -> None:
        """The consumer took the last event (it asks for the next one, or closed the stream)."""
        if self.pending:
            self.parts.append(self.pending)
            self.pending = ""
