"""What a run of the cases produced: per turn, per repeat, per case, and in all.

The reporters read only these, so every output format says the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..config.errors import ConfigIssue
from .spec import Case, EvalFile, Turn


@dataclass(frozen=True, slots=True)
class CallMade:
    """A tool call of the agent in one turn, with what it returned."""

    name: str
    input: Any
    output: str | None = None

    def __str__(self) -> str:
        text = f"{self.name}({json.dumps(self.input, ensure_ascii=False)})"
        return text if self.output is None else f"{text} -> {_short(self.output, 120)}"


@dataclass(frozen=True, slots=True)
class Answer:
    """One turn's answer: its text, the tool calls the agent made, and its structured object
    (``TurnResult.object``, where the agent returns one)."""

    text: str
    calls: tuple[CallMade, ...] = ()
    has_object: bool = False
    object: Any = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An expectation that did not hold: which (``contains``...) and what was wrong."""

    expectation: str
    message: str


@dataclass(slots=True)
class TurnOutcome:
    """One turn of one run: the answer, the failed expectations, or why it did not run."""

    turn: Turn
    answer: Answer | None = None
    failures: list[Failure] = field(default_factory=list)
    #: The turn raised (a provider error, a cassette miss): no answer to check.
    error: str | None = None
    #: ``cassette-miss``, ``provider``, ``tool``... (the kind of ``error``).
    error_kind: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures


@dataclass(slots=True)
class RunOutcome:
    """One repeat of a case (``repeat`` from 0)."""

    repeat: int
    turns: list[TurnOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(turn.passed for turn in self.turns)

    @property
    def failed_turns(self) -> list[TurnOutcome]:
        return [turn for turn in self.turns if not turn.passed]


@dataclass(slots=True)
class CaseOutcome:
    """Every run of a case; it passes when the share of passing runs reaches ``pass_rate``."""

    case: Case
    runs: list[RunOutcome] = field(default_factory=list)

    @property
    def passes(self) -> int:
        return sum(run.passed for run in self.runs)

    @property
    def passed(self) -> bool:
        return bool(self.runs) and self.passes / len(self.runs) >= self.case.pass_rate - 1e-9

    @property
    def errored(self) -> bool:
        """Some turn raised (rather than answered wrongly)."""
        return any(turn.error is not None for run in self.runs for turn in run.turns)

    @property
    def seconds(self) -> float:
        return sum(run.seconds for run in self.runs)

    def rate_text(self) -> str:
        """``3/5 runs passed, pass_rate 0.6`` for a repeated case, else empty."""
        if self.case.repeat == 1:
            return ""
        return f"{self.passes}/{len(self.runs)} runs passed, pass_rate {self.case.pass_rate:g}"


@dataclass(slots=True)
class Report:
    """The whole run: the files, every case's outcome in file order, and notes."""

    files: list[EvalFile]
    cases: list[CaseOutcome]
    seconds: float
    #: Warnings of the eval files (they do not fail the run).
    warnings: list[ConfigIssue] = field(default_factory=list)
    #: What a record run did with the cassettes.
    notes: list[str] = field(default_factory=list)
    mode: str = "live"

    @property
    def passed(self) -> int:
        return sum(case.passed for case in self.cases)

    @property
    def failed(self) -> int:
        return len(self.cases) - self.passed

    def summary(self) -> str:
        """``3 passed, 1 failed in 0.52s``."""
        return f"{self.passed} passed, {self.failed} failed in {self.seconds:.2f}s"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "Answer",
    "CallMade",
    "CaseOutcome",
    "Failure",
    "Report",
    "RunOutcome",
    "TurnOutcome",
]
