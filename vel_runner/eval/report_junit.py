"""JUnit XML, for CI dashboards: one ``testsuite`` per eval file, one ``testcase`` per case
(a ``failure`` when an expectation failed, an ``error`` when a turn raised)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TextIO

from ..config.command_validate import issue_text
from ..config.errors import ConfigIssue
from .report_text import first_failing_run, turn_details, turn_heading
from .results import CaseOutcome, Report


def _case(suite: ET.Element, outcome: CaseOutcome) -> None:
    case = outcome.case
    element = ET.SubElement(
        suite,
        "testcase",
        classname=case.file,
        name=case.name,
        file=case.file,
        line=str(case.line),
        time=f"{outcome.seconds:.3f}",
    )
    run = first_failing_run(outcome)
    if outcome.passed or run is None:
        return
    turns = run.failed_turns
    first = turns[0]
    kind = "error" if outcome.errored else "failure"
    summary = turn_details(first)[0]
    rate = outcome.rate_text()
    detail = [rate] if rate else []
    for turn in turns:
        detail.append(turn_heading(outcome, turn))
        detail.extend(f"  {line}" for line in turn_details(turn))
    failure = ET.SubElement(
        element,
        kind,
        message=f"turn {first.turn.number}: {summary}",
        type=first.error_kind or (first.failures[0].expectation if first.failures else "failed"),
    )
    failure.text = "\n".join(detail)


def _finish(root: ET.Element, out: TextIO) -> None:
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")


def write(out: TextIO, report: Report) -> None:
    root = ET.Element(
        "testsuites",
        name="vel-runner eval",
        tests=str(len(report.cases)),
        failures=str(sum(not c.passed and not c.errored for c in report.cases)),
        errors=str(sum(not c.passed and c.errored for c in report.cases)),
        time=f"{report.seconds:.3f}",
    )
    for eval_file in report.files:
        name = str(eval_file.path)
        mine = [c for c in report.cases if c.case.file == name]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(mine)),
            failures=str(sum(not c.passed and not c.errored for c in mine)),
            errors=str(sum(not c.passed and c.errored for c in mine)),
            time=f"{sum(c.seconds for c in mine):.3f}",
        )
        for outcome in mine:
            _case(suite, outcome)
    _finish(root, out)


def write_issues(out: TextIO, issues: Sequence[ConfigIssue]) -> None:
    """Config or eval-file errors (exit 2) as one suite of errors, so a dashboard shows why
    no case ran."""
    errors = [issue for issue in issues if issue.severity == "error"]
    root = ET.Element("testsuites", name="vel-runner eval", tests=str(len(errors)))
    suite = ET.SubElement(
        root, "testsuite", name="config and eval files", tests=str(len(errors)),
        errors=str(len(errors)),
    )  # fmt: skip
    for issue in errors:
        case = ET.SubElement(
            suite, "testcase", classname=issue.file, name=f"{issue.file}:{issue.line}",
            file=issue.file, line=str(issue.line),
        )  # fmt: skip
        error = ET.SubElement(case, "error", message=str(issue), type=issue.code)
        error.text = issue_text(issue)
    _finish(root, out)


__all__ = ["write", "write_issues"]
