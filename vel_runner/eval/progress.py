"""The progress line of ``vel-runner eval`` on a terminal: ``[3/10] 2 passed, 1 failed``,
rewritten in place as cases finish. Nothing at all when stderr is not a terminal or ``CI``
is set: logs get the report, not carriage returns."""

from __future__ import annotations

import os
from typing import TextIO

from .results import CaseOutcome

_CLEAR = "\r\x1b[2K"
#: ``CI`` values that mean "running in CI" (GitHub Actions, GitLab and most set ``true``).
_TRUE = frozenset({"1", "true", "yes"})


def wanted(stream: TextIO) -> bool:
    """A progress line only for a person: a terminal, and not CI."""
    if os.environ.get("CI", "").strip().lower() in _TRUE:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


class ProgressLine:
    """Counts finished cases on one line of ``stream``."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.passed = 0
        self.failed = 0
        self._show("running")

    def _show(self, last: str) -> None:
        done = self.passed + self.failed
        line = f"[{done}/{self.total}] {self.passed} passed, {self.failed} failed · {last}"
        self.stream.write(_CLEAR + line[:120])
        self.stream.flush()

    def done(self, outcome: CaseOutcome) -> None:
        if outcome.passed:
            self.passed += 1
        else:
            self.failed += 1
        self._show(outcome.case.name)

    def close(self) -> None:
        self.stream.write(_CLEAR)
        self.stream.flush()


__all__ = ["ProgressLine", "wanted"]
