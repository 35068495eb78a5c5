"""What one turn produced: :class:`TurnResult`, returned by ``Agent.run_turn`` and carried by
the last event of a streamed turn (:class:`~vel_runner.events.TurnFinished`), so every
protocol, streamed or not, reads the same fields."""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Message
from .providers.base import Usage
from .tools.base import ToolCall

#: The AI SDK's finish reasons (``TurnResult.finish_reason``).
FINISH_REASONS = frozenset({"stop", "length", "content-filter", "tool-calls", "error", "other"})


def finish_reason(model_reason: str | None) -> str:
    """The AI SDK's name for the reason a model gave (OpenAI's ``tool_calls`` -> ``tool-calls``)."""
    if model_reason is None:
        return "stop"
    reason = model_reason.replace("_", "-")
    return reason if reason in FINISH_REASONS else "other"


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one turn produced (``Agent.run`` returns only ``output``)."""

    #: Everything the model wrote in the turn, in order: the concatenation of the streamed
    #: text deltas (a preamble beside a tool call, then the answer).
    output: str
    usage: Usage | None
    session_id: str | None
    run_id: str
    #: Calls of client-declared tools the model made (the run stopped for them).
    tool_calls: tuple[ToolCall, ...] = ()
    #: What the run added after the user message: tool calls, results, the answer.
    messages: tuple[Message, ...] = ()
    #: Why the model stopped, in the AI SDK's words (``stop``, ``length``, ``tool-calls``...).
    finish_reason: str = "stop"
