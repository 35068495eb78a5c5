"""Turns as events for ``/v1/events`` (the dashboard's live per-agent numbers and its
in-turn marks): ``turn-started`` and ``turn-finished`` with outcome, duration and tokens.

A feed exists only while an event stream is connected, so a server nobody watches pays
nothing for it. Turn events are this process's: with several workers a stream sees the turns
of the worker serving it (session events, relayed by PostgreSQL, cover every worker).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from . import hooks


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class TurnEvent:
    """A turn that started or finished."""

    kind: Literal["turn-started", "turn-finished"]
    agent_id: str
    session_id: str | None
    run_id: str
    outcome: str | None = None
    duration: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    at: datetime = field(default_factory=_now)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "agent_id": self.agent_id,
            "session_id": self.session_id,
            "run_id": self.run_id,
            "at": self.at.isoformat(),
        }
        if self.kind == "turn-finished":
            data.update(
                outcome=self.outcome,
                duration=self.duration,
                input_tokens=self.input_tokens,
                output_tokens=self.output_tokens,
            )
        return data


class TurnFeed:
    """The hooks observer that hands each turn's start and end to ``deliver``, on the event
    loop the feed was made on (a turn on another loop's thread is passed over to it)."""

    def __init__(self, deliver: Callable[[TurnEvent], None]) -> None:
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()

    def _send(self, event: TurnEvent) -> None:
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self._loop:
            self._deliver(event)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, event)

    def started(self, step: hooks.Step) -> None:
        if step.kind == "turn":
            self._send(TurnEvent("turn-started", step.agent, step.session, step.run_id))

    def ended(self, step: hooks.Step) -> None:
        if step.kind == "turn":
            self._send(TurnEvent("turn-finished", *finished_fields(step)))


#: What a ``turn-finished`` event says of its turn, after its kind and before its time.
FinishedFields = tuple[str, str | None, str, str, float, int, int]


def finished_fields(step: hooks.Step) -> FinishedFields:
    """Agent, session, run id, outcome, seconds, input and output tokens of a finished turn."""
    return (
        step.agent,
        step.session,
        step.run_id,
        step.outcome,
        round(step.seconds, 6),
        step.input_tokens,
        step.output_tokens,
    )
