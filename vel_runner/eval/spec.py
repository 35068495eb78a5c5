"""The cases of an eval file, as the runner uses them (loaded by :mod:`.loading`).

Every part remembers its line, so a report, a JUnit file or a GitHub annotation points at
the case or the turn in the ``*.eval.yaml`` that failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

#: How ``tool_calls`` compares the expected calls with the calls made.
CallOrder = Literal["in_order", "exact", "any_order"]


@dataclass(frozen=True, slots=True)
class ExpectedCall:
    """A tool call a turn must make: its name and a subset of its arguments."""

    name: str
    input: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Judge:
    """A rubric graded by ``agent`` (an agent of the config)."""

    agent: str
    rubric: str


@dataclass(frozen=True, slots=True)
class Expect:
    """What one answer must satisfy: every expectation given must hold."""

    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    matches: tuple[re.Pattern[str], ...] = ()
    equals: str | None = None
    tool_calls: tuple[ExpectedCall, ...] = ()
    tool_calls_match: CallOrder = "in_order"
    no_tool_calls: bool = False
    #: ``object:`` given (its value may be null, so presence is a flag of its own).
    has_object: bool = False
    object: Any = None
    judge: Judge | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """What the user says (turn ``number``, from 1) and what the answer must satisfy."""

    number: int
    user: str
    expect: Expect
    line: int


@dataclass(frozen=True, slots=True)
class Case:
    """One conversation of an eval file."""

    file: str
    index: int
    name: str
    agent: str
    turns: tuple[Turn, ...]
    line: int
    #: A named session the case continues (shared with the file's other cases that name it).
    session: str | None = None
    repeat: int = 1
    pass_rate: float = 1.0
    stream: bool = False
    stub_tools: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``file::name``: what ``-k`` matches and reports name the case by."""
        return f"{self.file}::{self.name}"


@dataclass(frozen=True, slots=True)
class EvalFile:
    """One ``*.eval.yaml``: its cases in file order and where its cassette lives."""

    path: Path
    cases: tuple[Case, ...]
    cassette: Path


__all__ = ["CallOrder", "Case", "EvalFile", "Expect", "ExpectedCall", "Judge", "Turn"]
