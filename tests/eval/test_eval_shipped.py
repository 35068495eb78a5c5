"""The shipped ``evals/`` beside ``agents.yaml``: its cases pass offline (echo agents, and
``concierge`` from its committed cassette with no key and no network), its files validate
against the published schema, CI runs them, and the committed cassette is exactly what a
recording against the fake OpenAI server with the scripted answers below gives.

After an intended change of ``concierge`` (its instructions, model or tools), record the
cassette again with ``VEL_RECORD_SHIPPED=1 python -m pytest tests/eval/test_eval_shipped.py``.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helpers.evals import run_eval
from helpers.fake_openai import FakeOpenAI
from helpers.paths import REPO_ROOT

ROOT = REPO_ROOT
EVALS = ROOT / "evals"
CASSETTE = EVALS / "cassettes" / "concierge.jsonl"
#: What "the model" answers while the shipped cassette is recorded, in case order.
SCRIPT: list[str | dict[str, object]] = [
    {"tool_calls": [{"name": "calculator", "arguments": '{"expression": "6 * 7"}'}]},
    "6 nights at 7 euros a night cost 42 euros.",
    "Welcome, Alice! How can I help you today?",
    "Your name is Alice.",
]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "CI")}
    env["PYTHONPATH"] = str(ROOT)
    env.pop("ASSISTANT_PROVIDER", None)
    return env


def test_the_shipped_evals_pass_offline_from_the_cassette() -> None:
    """What .ci/run does: no OPENAI_API_KEY, and the OpenAI base URL pointing nowhere."""
    env = {**_environment(), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vel_runner.cli", "eval", "--replay", "-f",
         "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "openai" not in imported and "httpx" not in imported  # a replay needs no SDK
    report = json.loads(done.stdout)
    assert report["failed"] == 0
    names = {c["name"]: c for c in report["cases"]}
    assert len(names) >= 9
    [calculator] = names["uses the calculator"]["runs"][0]["turns"]
    assert calculator["answer"]["tool_calls"] == [
        {"name": "calculator", "input": {"expression": "6 * 7"}, "output": "42"}
    ]  # the tool ran for real during the replay
    assert {c["agent"] for c in report["cases"]} == {
        "assistant", "translator", "support", "tutor", "concierge", "triage",
    }  # fmt: skip


def test_without_a_cassette_the_online_cases_fail_and_the_offline_ones_pass() -> None:
    env = {**_environment(), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    done = subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "eval", "-f", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    failed = {c["name"] for c in json.loads(done.stdout)["cases"] if not c["passed"]}
    assert failed == {"uses the calculator", "remembers the guest's name"}


def test_the_committed_cassette_is_what_recording_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ROOT / "agents.yaml", tmp_path / "agents.yaml")
    shutil.copytree(EVALS, tmp_path / "evals", ignore=shutil.ignore_patterns("cassettes"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSISTANT_PROVIDER", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-recording-the-shipped-cassette")
    with FakeOpenAI() as fake:
        fake.script("gpt-4o-mini", *SCRIPT)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_eval("--record", "-k", "concierge")
        assert result.code == 0, result.out
    fresh = (tmp_path / CASSETTE.relative_to(ROOT)).read_text()
    if os.environ.get("VEL_RECORD_SHIPPED") == "1":
        CASSETTE.parent.mkdir(exist_ok=True)
        CASSETTE.write_text(fresh)
    assert CASSETTE.read_text() == fresh, (
        "evals/cassettes/concierge.jsonl is out of date: record it again with "
        "VEL_RECORD_SHIPPED=1 python -m pytest tests/eval/test_eval_shipped.py"
    )
    assert "sk-" not in fresh


@pytest.mark.parametrize("path", sorted(EVALS.glob("*.eval.yaml")), ids=lambda p: p.name)
def test_the_shipped_eval_files_match_the_published_schema(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schema/eval.schema.json\n")
    schema = json.loads((ROOT / "schema" / "eval.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(text), schema)


async def test_the_guide_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/evals.md's wrap_provider example, run as written on the shipped config."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("ASSISTANT_PROVIDER", raising=False)
    [block] = re.findall(
        r"^```python\n(.*?)^```", (ROOT / "docs" / "evals.md").read_text(), re.M | re.S
    )
    namespace: dict[str, Any] = {"__name__": "evals_guide"}
    code = compile(block, "docs/evals.md", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # our own documentation, run as written
    if inspect.iscoroutine(result):
        await result
    assert set(namespace["wrapped"]) == {"offline", "openai"}  # every provider an agent uses


def test_ci_runs_the_shipped_evals() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "vel-runner eval --replay" in ci
    readme = (ROOT / "README.md").read_text()
    assert "- run: vel-runner eval --replay --format github" in readme
