"""GitHub annotations: each failed turn as an error at its line in the eval file (the
warnings of the eval files as warnings), then the summary line."""

from __future__ import annotations

from typing import TextIO

from ..config.command_validate import issue_annotation
from ..github_annotations import annotation
from .report_text import first_failing_run, turn_details
from .results import Report

TITLE = "vel-runner eval"


def write(out: TextIO, report: Report) -> None:
    for issue in report.warnings:
        out.write(issue_annotation(issue, TITLE))
    for outcome in report.cases:
        run = first_failing_run(outcome)
        if outcome.passed or run is None:
            continue
        case = outcome.case
        rate = outcome.rate_text()
        for turn in run.failed_turns:
            head = f"turn {turn.turn.number} failed" + (f" ({rate})" if rate else "")
            message = "\n".join([head, *turn_details(turn)])
            out.write(
                annotation(
                    "error", message, file=case.file, line=turn.turn.line,
                    title=f"{TITLE}: {case.name}",
                )
            )  # fmt: skip
    out.write(f"{TITLE}: {report.summary()}\n")


__all__ = ["write"]
