"""``vel-runner validate`` vs ``check-jsonschema --schemafile schema/agents.schema.json``.

Wall time of a fresh process, as CI and pre-commit run them, on the shipped agents.yaml and on
a generated 1,000-agent file (valid, then with one error); both tools run by this interpreter
(``python -m``) with their bytecode cached, as installed. Also prints the first error line
each tool gives for the invalid file: ours has file:line:col, the path and a hint.

    python benchmarks/bench_validate.py            # 7 runs per cell, median
    python benchmarks/bench_validate.py --runs 15
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "agents.schema.json"
MODES = [
    "{mode: full}",
    "{mode: stateless}",
    "{mode: window, max_history: 20}",
    "{mode: summarize, max_history: 12}",
]


def generate(agents: int) -> str:
    """A realistic config: two providers, two stores, ``agents`` agents of every mode."""
    lines = [
        "# yaml-language-server: $schema=./schema/agents.schema.json",
        "version: 1",
        "providers:",
        "  offline: {type: echo}",
        "  openai:",
        "    type: openai",
        '    api_key: "${OPENAI_API_KEY:-sk-unset}"',
        "    timeout: 30",
        "stores:",
        "  memory: {type: memory, ttl: 1h}",
        "  pg: {type: database, dsn: '${POSTGRES_DSN:-postgresql:///vel}', max_size: 20}",
        "agents:",
    ]
    for i in range(agents):
        lines += [
            f"  - id: agent-{i:04d}",
            f"    description: Generated agent number {i}.",
            f"    model: {{provider: {'openai' if i % 3 == 0 else 'offline'}, model: gpt-4o-mini}}",
            f"    instructions: You are agent {i}. Answer briefly and cite your sources.",
            "    generation: {temperature: 0.2, max_tokens: 512}",
            f"    store: {'pg' if i % 2 else 'memory'}",
            f"    context: {MODES[i % 4]}",
            f"    ttl: {i % 48 + 1}h",
        ]
    return "\n".join(lines) + "\n"


def wall_time(argv: list[str], runs: int) -> tuple[float, int]:
    """Median wall time (s) of ``argv`` in a fresh process, and its exit code (after one run
    that is not counted: it writes the bytecode an installed package ships with)."""
    times, code = [], 0
    subprocess.run(argv, capture_output=True, cwd=ROOT, env=_env())
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, cwd=ROOT, env=_env())
        times.append(time.perf_counter() - start)
        code = result.returncode
    return statistics.median(times), code


def _env() -> dict[str, str]:
    """Both tools as installed: bytecode cached (an installed check-jsonschema has its .pyc;
    without this, vel-runner's sources would be compiled again on every run)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(ROOT)}


def first_line(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=_env())
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return next((line.strip() for line in lines if "color" in line or "agent" in line), lines[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    # Both started by this interpreter: a version manager's shim in front of one console
    # script (pyenv's costs ~0.1 s) would time the shim.
    ours = [sys.executable, "-m", "vel_runner.cli", "validate"]
    if importlib.util.find_spec("check_jsonschema") is None:
        sys.exit("check-jsonschema is not installed (pip install check-jsonschema)")
    theirs = [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMA)]

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "agents-1000.yaml"
        big.write_text(generate(1000))
        broken = Path(tmp) / "agents-1000-broken.yaml"
        broken.write_text(
            generate(1000).replace("    store: pg\n", "    store: pg\n    color: red\n", 1)
        )
        cases = [
            ("shipped agents.yaml", ROOT / "agents.yaml"),
            (f"1,000 agents ({big.stat().st_size // 1024} KB)", big),
            ("1,000 agents, 1 error", broken),
        ]
        print(f"median wall time of a fresh process, {args.runs} runs each\n")
        print(f"{'file':<28} {'vel-runner validate':>20} {'check-jsonschema':>17} {'ratio':>7}")
        for label, path in cases:
            ours_s, ours_code = wall_time([*ours, str(path)], args.runs)
            theirs_s, theirs_code = wall_time([*theirs, str(path)], args.runs)
            print(
                f"{label:<28} {ours_s * 1000:>14.0f} ms (exit {ours_code})"
                f" {theirs_s * 1000:>8.0f} ms (exit {theirs_code}) {ours_s / theirs_s:>6.2f}x"
            )
        print("\nratio = vel-runner / check-jsonschema (below 1: vel-runner is faster)")
        print("\nfirst error for the broken file:")
        print(f"  vel-runner:       {first_line([*ours, str(broken)])}")
        print(f"  check-jsonschema: {first_line([*theirs, str(broken)])}")


if __name__ == "__main__":
    main()
