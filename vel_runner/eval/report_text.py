"""The text report: each failed case with the turn, what was expected and what came, then
the summary line (``3 passed, 1 failed in 0.52s``)."""

from __future__ import annotations

from typing import TextIO

from ..config.command_validate import issue_text
from .results import CaseOutcome, Report, RunOutcome, TurnOutcome

#: How much of an answer a report quotes.
ANSWER_LIMIT = 500
#: What a report puts before the message of a turn that raised (a cassette miss says so).
_ERROR_LABELS = {"provider": "the provider failed: ", "internal": "vel-runner failed: "}


def first_failing_run(outcome: CaseOutcome) -> RunOutcome | None:
    """The run a report details for a failed case (the first that failed)."""
    return next((run for run in outcome.runs if not run.passed), None)


def turn_heading(outcome: CaseOutcome, turn: TurnOutcome) -> str:
    """``file:line: case name, turn N``: where a failure is."""
    case = outcome.case
    return f"{case.file}:{turn.turn.line}: {case.name}, turn {turn.turn.number}"


def turn_details(turn: TurnOutcome) -> list[str]:
    """The lines that explain a failed turn: the error, or each failed expectation, then
    the answer and the tool calls."""
    if turn.error is not None:
        lines = turn.error.splitlines() or [""]
        label = _ERROR_LABELS.get(turn.error_kind or "", "")
        return [label + lines[0], *lines[1:]]
    lines = [failure.message for failure in turn.failures]
    if turn.answer is not None:
        text = turn.answer.text
        shown = text if len(text) <= ANSWER_LIMIT else text[: ANSWER_LIMIT - 3] + "..."
        lines.append(f"answer: {shown!r}")
        calls = "; ".join(str(call) for call in turn.answer.calls) or "none"
        lines.append(f"tool calls: {calls}")
    return lines


def write(out: TextIO, report: Report) -> None:
    for issue in report.warnings:
        out.write(issue_text(issue))
    for outcome in report.cases:
        if outcome.passed:
            continue
        run = first_failing_run(outcome)
        label = "ERROR" if outcome.errored else "FAILED"
        case = outcome.case
        rate = outcome.rate_text()
        out.write(f"{label} {case.file}:{case.line}: {case.name}" + (f" ({rate})" if rate else ""))
        out.write("\n")
        if run is None:
            continue
        if case.repeat > 1:
            out.write(f"  run {run.repeat + 1} of {case.repeat}:\n")
        for turn in run.failed_turns:
            out.write(f"  turn {turn.turn.number} (line {turn.turn.line}): {turn.turn.user!r}\n")
            for line in turn_details(turn):
                out.write(f"    {line}\n")
    for note in report.notes:
        out.write(f"{note}\n")
    out.write(f"{report.summary()}\n")


__all__ = ["first_failing_run", "turn_details", "turn_heading", "write"]
