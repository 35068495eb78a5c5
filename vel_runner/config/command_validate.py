"""``vel-runner validate [PATH ...] [--format text|json|github]``: check config files, for
people and CI.

Every problem of every file in one run, each as ``file:line:col: path: message`` with a hint
where one helps. Exit 0 valid (warnings allowed, unless ``--strict``), 1 invalid, 2 usage or
I/O error (a file that cannot be read). Nothing here touches the network or a database
(except ``--connect``, which starts or reaches the MCP servers), and only the standard library
is imported at module level so the command starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .errors import ConfigIssue
    from .model import Config
    from .tool_listing import AgentTools

FORMATS = ("text", "json", "github")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="config files or directories of *.yaml, merged into one config (default: agents.yaml)",
    )
    parser.add_argument(
        "--config",
        "-c",
        action="append",
        default=[],
        metavar="PATH",
        help="another config file or directory (may repeat; same as a PATH)",
    )
    parser.add_argument(
        "--format", "-f", choices=FORMATS, default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="treat warnings as errors (exit 1 on any warning)"
    )
    parser.add_argument(
        "--connect",
        action="store_true",
        help="also start or connect to each MCP server, list its tools and check allow, deny "
        "and server.tool references against them",
    )
    parser.add_argument(
        "--each",
        action="store_true",
        help="validate each file on its own instead of merging them (pre-commit, linting)",
    )


def run(args: argparse.Namespace) -> int:
    from .validate import check_config

    paths: list[str] = [*args.paths, *args.config] or ["agents.yaml"]
    groups = [[p] for p in paths] if args.each else [paths]
    issues: list[ConfigIssue] = []
    configs: list[Config] = []
    tools: list[AgentTools] = []
    try:
        for group in groups:
            # --connect lists every tool as its model sees it: that needs them built
            config, found = check_config(group, build_tools=args.connect)
            issues.extend(found)
            if config is not None and args.connect:
                issues.extend(_connected(config, tools))
            if config is not None:
                configs.append(config)
    except Exception as exc:  # a bug, not bad input: say so without a traceback or values
        sys.stderr.write(f"vel-runner validate: internal error ({type(exc).__name__})\n")
        return 2
    errors = [i for i in issues if i.severity == "error" or args.strict]
    io_failure = any(i.code == "io" for i in issues)
    status = 2 if io_failure else (1 if errors else 0)
    shown = tools if status == 0 else []  # --connect: each agent's tools, as its model sees them
    if args.format == "json":
        _json(sys.stdout, issues, configs, paths, status, shown)
    else:
        write = {"text": _text, "github": _github}[args.format]
        write(sys.stdout, issues, configs, paths, status)
        if shown and args.format == "text":
            from .tool_listing import write_text

            write_text(sys.stdout, shown)
    return status


def _connected(config: Config, tools: list[AgentTools]) -> list[ConfigIssue]:
    """Reach the MCP servers; collect each agent's tools (as the models will see them)."""
    import asyncio
    import logging

    from .errors import issue_order
    from .tool_listing import agent_tools
    from .tools_check import connect_issues

    logging.getLogger("vel_runner.tools.mcp").setLevel(logging.ERROR)  # the report says it
    reached: dict[str, Any] = {}
    issues = asyncio.run(connect_issues(config, reached))
    tools.extend(agent_tools(config, reached, config.agents))
    return sorted(issues, key=issue_order)


def _text(out: TextIO, issues: Sequence[ConfigIssue], configs: Sequence[Config],
          paths: Sequence[str], status: int) -> None:  # fmt: skip
    for issue in issues:
        out.write(issue_text(issue))
    errors = sum(1 for i in issues if i.severity == "error")
    warnings = len(issues) - errors
    if status == 0:
        agents = sum(len(c.agents) for c in configs)
        files = sorted({f for c in configs for f in c.files})
        summary = f"valid: {agents} agent{'s' * (agents != 1)} in {', '.join(files)}"
        if warnings:
            summary += f" ({warnings} warning{'s' * (warnings != 1)})"
        out.write(summary + "\n")
    else:
        out.write(
            f"invalid: {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}\n"
        )


def _json(out: TextIO, issues: Sequence[ConfigIssue], configs: Sequence[Config],
          paths: Sequence[str], status: int, tools: Sequence[AgentTools] = ()) -> None:  # fmt: skip
    report: dict[str, Any] = {
        "valid": status == 0,
        "exit_code": status,
        "files": sorted({f for c in configs for f in c.files}) or list(paths),
        "agents": [agent_id for c in configs for agent_id in c.agents],
        "issues": [issue.as_dict() for issue in issues],
    }
    if tools:
        report["tools"] = [listing.as_dict() for listing in tools]
    json.dump(report, out, indent=2)
    out.write("\n")


def issue_text(issue: ConfigIssue) -> str:
    """``file:line:col: path: message`` and the hint below it: how an issue is printed."""
    hint = f"    hint: {issue.hint}\n" if issue.hint else ""
    return f"{issue}\n{hint}"


def issue_annotation(issue: ConfigIssue, title: str = "vel-runner validate") -> str:
    """The issue as a GitHub annotation at its line."""
    from ..github_annotations import annotation

    level = "error" if issue.severity == "error" else "warning"
    message = f"{issue.path}: {issue.message}"
    if issue.hint:
        message += f"\nhint: {issue.hint}"
    return annotation(
        level, message, file=issue.file, line=issue.line, column=issue.column, title=title
    )


def _github(out: TextIO, issues: Sequence[ConfigIssue], configs: Sequence[Config],
            paths: Sequence[str], status: int) -> None:  # fmt: skip
    for issue in issues:
        out.write(issue_annotation(issue))
    if status == 0:
        out.write("vel-runner validate: valid\n")


__all__ = ["FORMATS", "configure", "issue_annotation", "issue_text", "run"]
