"""The checks of the tools' ``approval`` and ``approval_timeout`` (a person in the loop), for
``vel-runner validate`` and every (re)load. (How a declaration becomes a rule:
``ApprovalRule.from_decl`` in :mod:`vel_runner.tools.approval_rule`.)

Errors: an ``approval_timeout`` that is not a positive duration. Warnings (the config works,
but not as its author thinks): an ``approval_timeout`` without ``approval``, an empty list of
globs, globs that never match (a python or agent tool's globs that miss its own name; with
``validate --connect``, an MCP server's globs that match none of its tools, reported with
allow and deny).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from ..durations import parse_duration
from ..errors import InvalidInputError
from .errors import ConfigIssue
from .model import Config, Origin


def approval_issues(config: Config) -> list[ConfigIssue]:
    """Every problem with the tools' approval settings."""
    issues: list[ConfigIssue] = []
    for name, decl in config.tools.items():
        origin = config.origin("tools", name)
        setting = decl.get("approval")
        if "approval_timeout" in decl:
            issues.extend(_timeout_issues(decl["approval_timeout"], setting, origin))
        if setting == []:
            issues.append(
                origin.issue(
                    ("approval",),
                    "an empty approval list: no call waits for approval",
                    hint="list tool name globs, use approval: required, or leave it out",
                    severity="warning",
                    code="tool",
                )
            )
            continue
        globs = setting if isinstance(setting, list) and decl["type"] != "mcp" else None
        if globs is not None and not any(fnmatch.fnmatchcase(name, glob) for glob in globs):
            issues.append(
                origin.issue(
                    ("approval",),
                    f"no approval glob matches the tool's name {name!r}: its calls never "
                    "wait for approval",
                    hint="use approval: required for every call of this tool",
                    severity="warning",
                    code="tool",
                )
            )
    return issues


def _timeout_issues(value: Any, setting: Any, origin: Origin) -> list[ConfigIssue]:
    try:
        seconds = parse_duration(value)
    except InvalidInputError as exc:
        return [origin.issue(("approval_timeout",), str(exc), code="schema")]
    if seconds <= 0:
        return [
            origin.issue(
                ("approval_timeout",),
                "approval_timeout must be greater than 0",
                hint="omit it: a pending approval then lives as long as its session",
                code="schema",
            )
        ]
    if setting is None:
        return [
            origin.issue(
                ("approval_timeout",),
                "approval_timeout has no effect without approval",
                hint="add approval: required (or a list of tool name globs)",
                severity="warning",
                code="tool",
                key=True,
            )
        ]
    return []


__all__ = ["approval_issues"]
