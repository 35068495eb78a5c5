"""``vel-runner eval [PATH ...] [-c agents.yaml] [-k PATTERN] [-j N] [--record | --replay]``:
run the cases of ``*.eval.yaml`` files against the config's agents.

Exit 0 when every case passes, 1 when one fails, 2 for a config or eval-file error (each at
its line, as ``validate`` prints it), a cassette that cannot be read, no case selected, or
an output file that cannot be written. Only the standard library is imported at module
level; the config, the runtime and (when a provider needs it) openai load inside ``run``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ..config.errors import ConfigIssue
    from ..config.validate import Config
    from .results import Report
    from .spec import Case, EvalFile
    from .tape import Tape

FORMATS = ("text", "json", "junit", "github")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="eval files or directories of *.eval.yaml (default: evals/ beside the config)",
    )
    parser.add_argument(
        "--config",
        "-c",
        action="append",
        default=[],
        metavar="PATH",
        help="config file or directory (default: agents.yaml; may repeat, merged as validate)",
    )
    parser.add_argument(
        "-k",
        dest="patterns",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only the cases whose FILE::NAME contains PATTERN (ignoring case; may repeat)",
    )
    parser.add_argument(
        "--jobs", "-j", type=_positive, default=1, metavar="N", help="runs at once (default 1)"
    )
    parser.add_argument(
        "--format", "-f", choices=FORMATS, default="text", help="report format (default: text)"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report to FILE (stdout then gets the text report)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--record",
        action="store_true",
        help="call the real providers and write every model exchange to the files' cassettes",
    )
    mode.add_argument(
        "--replay",
        action="store_true",
        help="answer every model request from the cassettes; no network",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from ..config.validate import check_config
    from .loading import default_eval_paths, find_eval_files, load_eval_files

    config_paths: list[str] = args.config or ["agents.yaml"]
    config, issues = check_config(config_paths)
    if config is None:
        return _issues(args, issues)
    files, issues = find_eval_files(args.paths or default_eval_paths(config_paths))
    if issues:
        return _issues(args, issues)
    loaded, issues = load_eval_files(files, config)
    if any(issue.severity == "error" for issue in issues):
        return _issues(args, issues)
    cases = [c for f in loaded for c in f.cases if _selected(c.id, args.patterns)]
    if not cases:
        total = sum(len(f.cases) for f in loaded)
        wanted = " or ".join(repr(p) for p in args.patterns)
        sys.stderr.write(
            f"vel-runner eval: no case matches -k {wanted} ({total} cases in {len(loaded)} files)\n"
        )
        return 2
    from .cassette import CassetteError

    try:
        tapes = _tapes(args, config, loaded, cases)
    except CassetteError as exc:  # a file that is not a cassette (or cannot be read)
        sys.stderr.write(f"vel-runner eval: {exc}\n")
        return 2
    report = asyncio.run(_run(args, config, loaded, cases, tapes, issues))
    if isinstance(report, list):
        return _issues(args, report)
    if args.record:
        ran = {c.name for c in cases}
        report.notes.extend(n for tape in tapes.values() if (n := tape.save(ran)) is not None)
    status = 0 if report.failed == 0 else 1
    return _emit(args, _reporter(args.format), report, status, _reporter("text"))


def _selected(case_id: str, patterns: Sequence[str]) -> bool:
    return not patterns or any(p.lower() in case_id.lower() for p in patterns)


def _tapes(
    args: argparse.Namespace, config: Config, loaded: list[EvalFile], cases: list[Case]
) -> dict[str, Tape]:
    if not (args.record or args.replay):
        return {}
    from .environment import config_secrets
    from .tape import Tape

    secrets = config_secrets(config)
    used = {case.file for case in cases}
    return {
        str(f.path): Tape(f, record=args.record, secrets=secrets)
        for f in loaded
        if str(f.path) in used
    }


async def _run(
    args: argparse.Namespace,
    config: Config,
    loaded: list[EvalFile],
    cases: list[Case],
    tapes: dict[str, Tape],
    warnings: list[ConfigIssue],
) -> Report | list[ConfigIssue]:
    """The report, or the config errors that kept the agents from being built."""
    from ..config.errors import ConfigError
    from .cassette_provider import cassette_wrapper
    from .environment import eval_runtime
    from .progress import ProgressLine, wanted
    from .results import Report
    from .runner import Runner

    wrap = cassette_wrapper(record=args.record) if tapes else None
    agent_ids = {c.agent for c in cases}
    agent_ids |= {t.expect.judge.agent for c in cases for t in c.turns if t.expect.judge}
    try:
        runtime = eval_runtime(config, agent_ids, wrap)
    except ConfigError as exc:
        return exc.issues
    progress = ProgressLine(sys.stderr, len(cases)) if wanted(sys.stderr) else None
    started = time.perf_counter()
    try:
        async with runtime:
            runner = Runner(
                runtime,
                config,
                cases,
                jobs=args.jobs,
                tapes=tapes,
                on_done=progress.done if progress else None,
            )
            outcomes = await runner.run()
    finally:
        if progress is not None:
            progress.close()
    mode = "record" if args.record else "replay" if args.replay else "live"
    files = [f for f in loaded if any(c.file == str(f.path) for c in cases)]  # -k may skip some
    return Report(files, outcomes, time.perf_counter() - started, warnings, [], mode)


# -- output -------------------------------------------------------------------------------------
def _reporter(format_name: str) -> Callable[[TextIO, Any], None]:
    """The ``write(out, report)`` of ``report_<format>.py``."""
    import importlib

    module = importlib.import_module(f"{__package__}.report_{format_name}")
    writer: Callable[[TextIO, Any], None] = module.write
    return writer


def _issues_text(out: TextIO, issues: Sequence[ConfigIssue]) -> None:
    from ..config.command_validate import issue_text

    for issue in issues:
        out.write(issue_text(issue))
    errors = sum(issue.severity == "error" for issue in issues)
    out.write(f"vel-runner eval: {errors} error{'s' * (errors != 1)} in the config or eval files\n")


def _issues_json(out: TextIO, issues: Sequence[ConfigIssue]) -> None:
    import json

    json.dump({"exit_code": 2, "issues": [i.as_dict() for i in issues]}, out, indent=2)
    out.write("\n")


def _issues_junit(out: TextIO, issues: Sequence[ConfigIssue]) -> None:
    from .report_junit import write_issues

    write_issues(out, issues)


def _issues_github(out: TextIO, issues: Sequence[ConfigIssue]) -> None:
    from ..config.command_validate import issue_annotation

    for issue in issues:
        out.write(issue_annotation(issue, "vel-runner eval"))


_ISSUE_WRITERS: dict[str, Callable[[TextIO, Any], None]] = {
    "text": _issues_text,
    "json": _issues_json,
    "junit": _issues_junit,
    "github": _issues_github,
}


def _issues(args: argparse.Namespace, issues: Sequence[ConfigIssue]) -> int:
    return _emit(args, _ISSUE_WRITERS[args.format], issues, 2, _issues_text)


def _emit(
    args: argparse.Namespace,
    write: Callable[[TextIO, Any], None],
    content: Any,
    status: int,
    text: Callable[[TextIO, Any], None],
) -> int:
    """``content`` in the chosen format to ``--output`` (stdout then gets the text form), or
    to stdout. An output file that cannot be written is exit 2."""
    if not args.output:
        write(sys.stdout, content)
        return status
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            write(handle, content)
    except OSError as exc:
        sys.stderr.write(f"vel-runner eval: cannot write {args.output}: {exc.strerror}\n")
        return 2
    text(sys.stdout, content)
    return status


__all__ = ["FORMATS", "configure", "run"]
