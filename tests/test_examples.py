"""The shipped examples run, offline, as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_context_modes_example_runs_offline() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no API key, no database
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "context_modes.py")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "== Full memory (default) (full) ==" in out
    assert "model: echo (7 messages): What is my name?" in out  # full history: 3 turns + 1
    assert "== Stateless (no memory) (stateless) ==" in out
    assert out.count("model: echo (1 messages)") >= 5
    assert "stored messages: 4" in out  # max_history=4
    assert "running summary:" in out
    assert "after clear: []" in out


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, vel_runner; "
        "heavy = [m for m in ('openai', 'psycopg', 'textual', 'fastapi', 'uvicorn', 'starlette')"
        " if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
