"""Eval projects for the ``vel-runner eval`` tests: a config and eval files in a folder, and
the command run in this process (so a test can read the tools' state afterwards)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vel_runner.cli import main

#: Offline agents: ``helper`` (instructions, the test tools), ``plain`` (no instructions, no
#: tools) and ``oneshot`` (stateless).
CONFIG = """\
version: 1
providers:
  offline: {type: echo}
tools:
  add: {type: python, function: "helpers.eval_tools:add"}
  launch: {type: python, function: "helpers.eval_tools:launch"}
  meet: {type: python, function: "helpers.eval_tools:meet"}
agents:
  - id: helper
    model: {provider: offline, model: echo-1}
    instructions: You help.
    tools: [add, launch, meet]
  - id: plain
    model: {provider: offline, model: echo-1}
  - id: oneshot
    model: {provider: offline, model: echo-1}
    context: {mode: stateless}
"""


@dataclass(frozen=True, slots=True)
class Ran:
    """What one ``vel-runner eval`` printed and returned."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def case(self, name: str) -> dict[str, Any]:
        """A case of the JSON report, by name."""
        found = [c for c in self.json()["cases"] if c["name"] == name]
        assert len(found) == 1, f"no case {name!r} in the report"
        return found[0]


def project(folder: Path, evals: dict[str, str], config: str = CONFIG) -> Path:
    """``folder/agents.yaml`` and ``folder/evals/<name>`` for each eval file; the config."""
    path = folder / "agents.yaml"
    path.write_text(config)
    (folder / "evals").mkdir(exist_ok=True)
    for name, text in evals.items():
        (folder / "evals" / name).write_text(text)
    return path


def run_eval(*args: str) -> Ran:
    """``vel-runner eval ARGS`` in this process (cwd as the test set it)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["eval", *args])
    return Ran(code, out.getvalue(), err.getvalue())
