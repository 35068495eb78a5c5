"""``vel-runner schema [--eval]``: print the JSON Schema of agents.yaml (of ``*.eval.yaml``
with ``--eval``), for editors and other tools.

Only the standard library is imported: the schema is a packaged JSON file.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", "-o", metavar="FILE", help="write the schema to FILE instead of stdout"
    )
    parser.add_argument(
        "--eval",
        action="store_true",
        help="the schema of eval files (*.eval.yaml, vel-runner eval) instead of agents.yaml",
    )


def run(args: argparse.Namespace) -> int:
    from .schema import schema_text

    try:
        text = schema_text("eval" if args.eval else "agents")
    except OSError as exc:
        sys.stderr.write(f"vel-runner schema: cannot read the packaged schema: {exc.strerror}\n")
        return 2
    if not text.endswith("\n"):
        text += "\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            sys.stderr.write(f"vel-runner schema: cannot write {args.output}: {exc.strerror}\n")
            return 2
    else:
        sys.stdout.write(text)
    return 0


__all__ = ["configure", "run"]
