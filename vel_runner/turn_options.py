"""How one turn may differ from a plain one (``Agent.run_turn(..., options=TurnOptions(...))``).
The chat and Responses routes need these options; library users rarely do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
