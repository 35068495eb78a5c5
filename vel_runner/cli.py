"""The ``vel-runner`` command line: argument parsing and exit codes only.

Each subcommand lives in its own module exposing ``configure(parser)`` and ``run(args) -> int``.
Only the chosen subcommand's module is imported, and those modules import only the standard
library at module level; heavy imports (openai, textual, the server stack, psycopg) happen
inside ``run``, so ``vel-runner validate`` starts fast. Exit codes: 0 success, 1 invalid
input (a config error, a failed check), 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("vel_runner.config.command_validate", "check config files (for people and CI)"),
    "schema": ("vel_runner.config.command_schema", "print the JSON Schema of agents.yaml"),
    "serve": ("vel_runner.server.command", "run the agents over HTTP"),
    "monitor": ("vel_runner.tui.command", "the terminal dashboard of a running server"),
    "migrate": ("vel_runner.storage.command_migrate", "apply the PostgreSQL schema migrations"),
    "sessions": ("vel_runner.command_sessions", "clean up stored sessions (for cron)"),
    "tools": ("vel_runner.command_tools", "each agent's tools, the way its model sees them"),
    "eval": ("vel_runner.eval.command", "run the eval cases of the agents (for people and CI)"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported to configure its arguments (the
    others are listed by their help text), so one command never pays for the others' imports.
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="vel-runner", description="A declarative, config-driven LLM agent runner."
    )
    parser.add_argument("--version", action="version", version=f"vel-runner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.configure(command_parser)
            command_parser.set_defaults(command_run=module.run)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top-level
    parser has only flags, ``--help`` and ``--version``)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vel-runner`` console script."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(chosen_command(words))
    args = parser.parse_args(words)
    run = getattr(args, "command_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
