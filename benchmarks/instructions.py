"""Count the instructions a piece of Python executes, under valgrind: the measure that holds
still on a machine other jobs share, where timings wander by a third from run to run.

``per_unit(tree, code, args, units)`` runs ``code`` (a script reading ``sys.argv``) with the
checkout ``tree`` on ``PYTHONPATH`` twice, once with its last argument 0 and once with
``units``, and returns the difference over the units: start-up, imports and warm-up cancel
out. Needs ``valgrind`` (``apt-get install valgrind``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def count(tree: Path, code: str, args: Sequence[str], env: Mapping[str, str] = {}) -> int:
    """Instructions of one run of ``code`` with ``tree`` on the path (a fixed hash seed)."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-c",
            code,
            *args,
        ],
        env={**os.environ, **env, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"},
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    refs = next(line for line in out.stderr.splitlines() if "I   refs" in line)
    return int(refs.split()[-1].replace(",", ""))


def per_unit(
    tree: Path, code: str, args: Sequence[str], units: int, env: Mapping[str, str] = {}
) -> float:
    """Instructions per unit of work: ``code`` run with ``units`` as its last argument,
    less the same run with 0."""
    base = count(tree, code, [*args[:-1], "0"], env)
    loaded = count(tree, code, [*args[:-1], args[-1]], env)
    return (loaded - base) / units
