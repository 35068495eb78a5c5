"""The turn's events: what one streamed turn produces, in order, as typed values.

The turn (:mod:`vel_runner.turn`) produces these and nothing else; every wire protocol is an
encoder from them (:mod:`vel_runner.protocols`): the AI SDK UI message stream that
``Agent.run_stream`` yields, the chat completions chunks, the Responses events. One streamed
turn produces::

    TurnStarted                                   once, before anything else
    StepStarted                                   per model call
      TextDelta*                                  the model's text, as it comes
      ToolCallStarted / ToolInputDelta*           per tool call the model writes
      TextEnded                                   the model's reply for the step is complete
      ToolCallReady*                              each call, its input parsed
      ToolOutput*                                 each result, as it arrives (not for calls
                                                  the client runs itself)
    StepEnded                                     the step is done (the last one: once stored)
    TurnFinished | TurnFailed                     the result once stored, or the error

A failed turn ends with :class:`TurnFailed` wherever it was (the encoder closes what it had
open). A non-streamed turn produces no events at all: it returns its
:class:`~vel_runner.turn_result.TurnResult`, the same object :class:`TurnFinished` carries.

Events are slotted dataclasses, cheap to make and matched by type; treat them as read-only
(they are not frozen: a frozen dataclass pays a call per field, and a turn makes one event
per delta). New kinds (an approval request, say) are new classes; an encoder ignores kinds it
does not know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import VelError
    from .tools.base import ToolCall
    from .turn_result import TurnResult


@dataclass(slots=True)
class TurnStarted:
    """The turn began: ``run_id`` is the id its answer is stored under."""

    run_id: str
    agent_id: str
    session_id: str | None


@dataclass(slots=True)
class StepStarted:
    """A model call begins (``index`` counts from 0)."""

    index: int


@dataclass(slots=True)
class TextDelta:
    """A piece of the model's text. All of a turn's deltas, joined, are its ``output``."""

    text: str


@dataclass(slots=True)
class ToolCallStarted:
    """The model began writing a tool call; ``client``: a tool the client runs itself."""

    call_id: str
    name: str
    client: bool = False


@dataclass(slots=True)
class ToolInputDelta:
    """A piece of a tool call's JSON arguments, as the model writes them."""

    call_id: str
    delta: str


@dataclass(slots=True)
class TextEnded:
    """The model's reply for this step is complete. ``text`` is the step's whole text;
    ``answer``: this step ends the turn (its reply is the answer)."""

    text: str
    answer: bool


@dataclass(slots=True)
class ToolCallReady:
    """A call the model made, its arguments complete (``input``: parsed, or the raw text
    when they are not JSON)."""

    call: ToolCall
    input: Any
    client: bool = False


@dataclass(slots=True)
class ToolOutput:
    """The result of a call: ``output`` (JSON-ready), or ``error`` when it failed."""

    call_id: str
    name: str
    output: Any
    error: str | None = None


@dataclass(slots=True)
class StepEnded:
    """A step is done; the turn's last one ends once the turn is stored."""

    index: int


@dataclass(slots=True)
class TurnFinished:
    """The turn is stored (or needed no storing): its result."""

    result: TurnResult


@dataclass(slots=True)
class TurnFailed:
    """The turn failed and stored nothing; the stream raises ``error`` next."""

    error: VelError


TurnEvent = (
    TurnStarted
    | StepStarted
    | TextDelta
    | ToolCallStarted
    | ToolInputDelta
    | TextEnded
    | ToolCallReady
    | ToolOutput
    | StepEnded
    | TurnFinished
    | TurnFailed
)
