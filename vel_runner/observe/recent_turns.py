"""The turns that finished in the last minutes, kept by the server so that a dashboard that
connects now shows the rates, latencies and errors of turns that ran before it connected
(``/v1/events?turns=true`` sends them first, as one ``recent-turns`` event).

A hooks observer that keeps one small tuple per finished turn, bounded in age
(:data:`WINDOW_SECONDS`, the dashboard's longest window) and in number (:data:`MAX_TURNS`);
the dicts are built only when a dashboard asks.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from . import hooks
from .turn_feed import FinishedFields, TurnEvent, finished_fields

#: Seconds of history kept: the dashboard's latency and error window.
WINDOW_SECONDS = 300.0
#: Turns kept at most (the newest), so a busy server's first frame stays small.
MAX_TURNS = 10_000

#: When a turn finished (a UNIX time), then its :data:`FinishedFields`.
_Turn = tuple[float, *FinishedFields]


class RecentTurns:
    """The hooks observer that remembers finished turns for :meth:`as_dicts`."""

    def __init__(self, window: float = WINDOW_SECONDS, max_turns: int = MAX_TURNS) -> None:
        self.window = window
        self._turns: deque[_Turn] = deque(maxlen=max_turns)

    def started(self, step: hooks.Step) -> None:
        return None

    def ended(self, step: hooks.Step) -> None:
        if step.kind != "turn":
            return
        self._turns.append((time.time(), *finished_fields(step)))

    def as_dicts(self) -> list[dict[str, Any]]:
        """The turns of the window, oldest first, shaped as ``turn-finished`` events."""
        oldest = time.time() - self.window
        turns = self._turns
        while turns and turns[0][0] < oldest:
            turns.popleft()
        return [_event(turn).as_dict() for turn in turns]


def _event(turn: _Turn) -> TurnEvent:
    at, agent, session, run_id, outcome, seconds, tokens_in, tokens_out = turn
    when = datetime.fromtimestamp(at, UTC)
    return TurnEvent(
        "turn-finished", agent, session, run_id, outcome, seconds, tokens_in, tokens_out, when
    )


__all__ = ["MAX_TURNS", "WINDOW_SECONDS", "RecentTurns"]
