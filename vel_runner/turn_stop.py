"""What a streamed turn keeps when its consumer stops it: the one place for those rules.

A chat front end keeps what it showed of a stopped answer (a stop button, a closed tab), so
the session keeps it too, and the next turn sees what the client sees: the user message, the
tool steps that finished, and the text of the current step that the consumer *took*, stored
as the answer marked ``{"metadata": {"interrupted": true}}``. A consumer took a delta when it
asked for the next item after it, or closed the stream while holding it (``aclose``); a
``CancelledError`` thrown in at a delta means it did not. Nothing delivered: nothing kept,
unless the turn keeps its input (``TurnOptions.keep_input``, the chat route: the question
stays where the user saw it), and then the question and the finished tool steps are.
"""

from __future__ import annotations

from collections.abc import Sequence

from .messages import Message


def answer_message(run_id: str, text: str, *, interrupted: bool = False) -> Message:
    """The assistant message a turn stores: under the turn's run id, marked when interrupted."""
    message: Message = {"role": "assistant", "content": text, "id": run_id}
    if interrupted:
        message["metadata"] = {"interrupted": True}
    return message


class Delivered:
    """The text of the current step its consumer took, and whether the consumer stopped."""

    __slots__ = ("parts", "pending", "stopped")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = ""  # handed to the consumer, counted once it asks for the next item
        self.stopped = False  # the consumer threw a cancellation in (it stopped the stream)

    def new_step(self) -> None:
        """A model step starts: a finished step's text is in its stored message."""
        self.parts.clear()

    def took(self) -> None:
        """The consumer took the last item (it asks for the next one, or closed the stream)."""
        if self.pending:
            self.parts.append(self.pending)
            self.pending = ""


def kept_on_stop(
    inputs: Sequence[Message],
    done: Sequence[Message],
    delivered: Delivered,
    run_id: str,
    keep_input: bool = False,
) -> list[Message] | None:
    """What a stopped turn stores: its inputs, the finished tool steps (``done``: what the
    run added so far) and the delivered text as an interrupted answer; ``None`` when the
    consumer was handed no text (and the turn does not keep its input)."""
    text = "".join(delivered.parts)
    if not text and not (keep_input and inputs):
        return None
    steps = list(done)
    if steps and steps[-1].get("tool_calls"):  # its results never came: not a valid history
        steps.pop()
    answer = [answer_message(run_id, text, interrupted=True)] if text else []
    return [*inputs, *steps, *answer]
