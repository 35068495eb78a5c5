"""Per-agent numbers from the live turn events: turns and tokens per minute, p50/p99 turn
latency and error rate over the last minutes, turns in flight. Plain Python, testable."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Turns/min and tokens/min count the last minute; latency and errors the last five.
RATE_WINDOW = timedelta(minutes=1)
LATENCY_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class FinishedTurn:
    at: datetime
    agent: str
    ok: bool
    seconds: float
    tokens: int


@dataclass(frozen=True, slots=True)
class AgentNumbers:
    """What the agents table shows for one agent."""

    turns_per_min: int
    tokens_per_min: int
    p50: float | None
    p99: float | None
    error_rate: float | None
    in_flight: int


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, math.ceil(len(sorted_values) * share))
    return sorted_values[rank - 1]


class AgentStats:
    """Finished turns of the last minutes and turns running now, per agent."""

    def __init__(self, max_turns: int = 100_000) -> None:
        self.finished: deque[FinishedTurn] = deque(maxlen=max_turns)
        self.running: dict[str, set[str]] = {}

    def started(self, agent: str, run_id: str) -> None:
        self.running.setdefault(agent, set()).add(run_id)

    def ended(self, turn: FinishedTurn, run_id: str) -> None:
        self.running.get(turn.agent, set()).discard(run_id)
        self.finished.append(turn)

    def replace_finished(self, turns: Iterable[FinishedTurn]) -> None:
        """Start over from ``turns`` (oldest first): the server's history of its last minutes."""
        self.finished.clear()
        self.finished.extend(sorted(turns, key=lambda turn: turn.at))

    def forget_running(self) -> None:
        """The event stream broke: what ran then is unknown now."""
        self.running.clear()

    def numbers(self, agent: str, now: datetime) -> AgentNumbers:
        while self.finished and self.finished[0].at < now - LATENCY_WINDOW:
            self.finished.popleft()
        recent = [t for t in self.finished if t.agent == agent]
        last_minute = [t for t in recent if t.at >= now - RATE_WINDOW]
        durations = sorted(t.seconds for t in recent if t.ok)
        return AgentNumbers(
            turns_per_min=len(last_minute),
            tokens_per_min=sum(t.tokens for t in last_minute),
            p50=percentile(durations, 0.5) if durations else None,
            p99=percentile(durations, 0.99) if durations else None,
            error_rate=sum(not t.ok for t in recent) / len(recent) if recent else None,
            in_flight=len(self.running.get(agent, ())),
        )
