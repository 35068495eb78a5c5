"""The JSON report: everything the run found, for tools (``--format json``)."""

from __future__ import annotations

import json
from typing import Any, TextIO

from .results import Answer, CaseOutcome, Report, TurnOutcome


def _answer(answer: Answer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    shown: dict[str, Any] = {
        "text": answer.text,
        "tool_calls": [
            {"name": c.name, "input": c.input, "output": c.output} for c in answer.calls
        ],
    }
    if answer.has_object:  # the agent's structured answer (its ``output`` schema)
        shown["object"] = answer.object
    return shown


def _turn(turn: TurnOutcome) -> dict[str, Any]:
    return {
        "turn": turn.turn.number,
        "line": turn.turn.line,
        "user": turn.turn.user,
        "passed": turn.passed,
        "answer": _answer(turn.answer),
        "failures": [{"expectation": f.expectation, "message": f.message} for f in turn.failures],
        "error": turn.error,
        "error_kind": turn.error_kind,
    }


def case_json(outcome: CaseOutcome) -> dict[str, Any]:
    case = outcome.case
    return {
        "file": case.file,
        "line": case.line,
        "name": case.name,
        "agent": case.agent,
        "passed": outcome.passed,
        "pass_rate": case.pass_rate,
        "runs_passed": outcome.passes,
        "seconds": round(outcome.seconds, 6),
        "runs": [
            {
                "repeat": run.repeat,
                "passed": run.passed,
                "seconds": round(run.seconds, 6),
                "turns": [_turn(turn) for turn in run.turns],
            }
            for run in outcome.runs
        ],
    }


def write(out: TextIO, report: Report) -> None:
    data = {
        "passed": report.passed,
        "failed": report.failed,
        "exit_code": 0 if report.failed == 0 else 1,
        "mode": report.mode,
        "seconds": round(report.seconds, 6),
        "files": [str(f.path) for f in report.files],
        "cases": [case_json(outcome) for outcome in report.cases],
        "warnings": [issue.as_dict() for issue in report.warnings],
        "notes": report.notes,
    }
    json.dump(data, out, indent=2, ensure_ascii=False)
    out.write("\n")


__all__ = ["case_json", "write"]
