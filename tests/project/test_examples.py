"""The shipped examples run, offline, as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.paths import REPO_ROOT

ROOT = REPO_ROOT


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


def test_the_readme_config_example_is_valid(tmp_path: Path) -> None:
    from vel_runner.config import load_config

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("## The config", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "agents.yaml"
    path.write_text(example, encoding="utf-8")
    environ = {"OPENAI_API_KEY": "sk-example", "POSTGRES_DSN": "postgresql://localhost/vel"}
    config = load_config([path], environ)
    assert list(config.agents) == ["support"]
    assert config.agents["support"]["context"] == {"mode": "window", "max_history": 20}
    assert config.agents["support"]["tools"] == ["calculator"]


def test_the_readme_quickstart_serves_the_shipped_config() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e . && vel-runner serve" in readme.split("## The commands")[0]
    assert (ROOT / "tests/tui/__snapshots__/test_tui_snapshots/test_main_screen.svg").is_file()


def test_tools_example_runs_offline() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tools.py")],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        'get_weather -> {"city": "Paris", "temperature": 21, "unit": "C"}; convert -> 11.0' in out
    )
    assert "invalid arguments for convert: amount: Input should be a valid number" in out
    assert "researcher -> echo (1 messages): sources?" in out
    assert "'type': 'tool-output-available'" in out
    assert "stored messages: 13" in out
