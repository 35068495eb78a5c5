"""Tools in agents.yaml: validate's errors at the YAML line (every output format), building
agents with python and agent tools, and hot reload adding and breaking a tool."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

from helpers.paths import REPO_ROOT
from helpers.waiting import saved_until_seen, wait_until

from vel_runner.config.build import build
from vel_runner.config.validate import check_config, load_config
from vel_runner.runtime import ConfigEvent, Runtime, RuntimeEvent

ROOT = REPO_ROOT

MODULE = '''
def get_time(zone: str = "UTC") -> str:
    """The time in a zone."""
    return f"12:00 {zone}"

def fetch(city: str, api_base: str) -> str:
    """Fetch a city."""
    return f"{api_base}/{city}"

def nohint(x):
    return x

def free(options: dict) -> None:
    """Free-form."""
'''

CONFIG = """\
version: 1
providers:
  offline: {type: echo}
tools:
  clock:
    type: python
    function: MOD:get_time
  fetcher:
    type: python
    function: MOD:fetch
    bind: {api_base: "http://weather"}
    timeout: 2s
  helper:
    type: agent
    agent: b
    description: Asks b.
agents:
  - id: a
    model: {provider: offline, model: e}
    tools: [clock, fetcher, helper]
    max_steps: 3
    parallel_tool_calls: false
  - id: b
    model: {provider: offline, model: e}
"""

BROKEN = """\
version: 1
providers:
  offline: {type: echo}
tools:
  nomod:
    type: python
    function: no_such_module_xyz:f
  noattr:
    type: python
    function: MOD:missing
  nohint:
    type: python
    function: MOD:nohint
  dict:
    type: python
    function: MOD:free
  badbind:
    type: python
    function: MOD:get_time
    bind: {nope: 1}
  self:
    type: agent
    agent: a
  ghost:
    type: agent
    agent: nobody
agents:
  - id: a
    model: {provider: offline, model: e}
    tools: [self, clok]
"""


def write(tmp_path: Path, text: str) -> Path:
    """The config with a fresh tool module next to it (a unique name: modules are cached)."""
    module = f"tools_{uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(MODULE)
    path = tmp_path / "agents.yaml"
    path.write_text(text.replace("MOD", module))
    return path


def test_every_tool_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    config, issues = check_config([path])
    assert config is None
    found = {(i.line, i.path): (i.message, i.hint) for i in issues}
    assert "module 'no_such_module_xyz' does not import" in found[(7, "tools.nomod.function")][0]
    assert "has no attribute 'missing'" in found[(10, "tools.noattr.function")][0]
    message, hint = found[(13, "tools.nohint.function")]
    assert "parameter 'x' of nohint has no type hint" in message and hint
    assert "strict mode" in found[(16, "tools.dict.function")][0]
    assert "bind names ['nope']" in found[(20, "tools.badbind.bind")][0]
    assert "calls agent 'nobody', which is not declared" in found[(26, "tools.ghost.agent")][0]
    assert found[(30, "agents[0].tools[0]")][0] == "agent 'a' calls itself through tool 'self'"
    message, hint = found[(30, "agents[0].tools[1]")]
    assert message == "tool 'clok' is not declared" and hint and "did you mean" not in hint
    assert len(issues) == 8
    assert all(issue.hint for issue in issues)  # every one says what to do


def test_validate_reports_tools_in_every_format_without_openai_or_textual(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    code = (
        "import sys; from vel_runner.cli import main; rc = main(sys.argv[1:]); "
        "assert 'openai' not in sys.modules and 'textual' not in sys.modules; sys.exit(rc)"
    )
    outputs = {}
    for fmt in ("text", "json", "github"):
        result = subprocess.run(
            [sys.executable, "-c", code, "validate", "--format", fmt, str(path)],
            capture_output=True, text=True, cwd=ROOT, timeout=60,
        )  # fmt: skip
        assert result.returncode == 1, result.stderr
        outputs[fmt] = result.stdout
    assert f"{path}:30:" in outputs["text"] and "calls itself" in outputs["text"]
    issues = json.loads(outputs["json"])["issues"]
    assert {i["code"] for i in issues} >= {"tool", "reference", "cycle"}
    assert f"::error file={path},line=13," in outputs["github"]


def test_a_cycle_of_agent_tools_is_reported_on_each_agent(tmp_path: Path) -> None:
    text = CONFIG + "    tools: [back]\n"
    text = text.replace("agents:\n", "  back:\n    type: agent\n    agent: a\nagents:\n")
    _, issues = check_config([write(tmp_path, text)])
    cycles = sorted(i.message for i in issues if i.code == "cycle")
    assert cycles == [
        "agent 'a' reaches itself (a -> b -> a) through tool 'helper'",
        "agent 'b' reaches itself (b -> a -> b) through tool 'back'",
    ]


async def test_agents_are_built_with_their_tools(tmp_path: Path) -> None:
    built = build(load_config([write(tmp_path, CONFIG)]))
    agent = built.snapshot.agents["a"]
    assert agent.toolbox.names == ["clock", "fetcher", "helper"]
    assert agent.max_steps == 3 and agent.toolbox.parallel is False
    fetcher = agent.toolbox.specs()[1]
    assert list(fetcher.parameters["properties"]) == ["city"] and fetcher.timeout == 2
    answer = await agent.run('/tool fetcher {"city": "Oslo"}\n/tool helper {"input": "hi"}')
    assert answer == (
        "echo (4 messages): fetcher -> http://weather/Oslo; helper -> echo (1 messages): hi"
    )


async def test_hot_reload_adds_a_tool_and_a_broken_tool_never_becomes_active(
    tmp_path: Path,
) -> None:
    plain = "version: 1\nproviders:\n  offline: {type: echo}\nagents:\n"
    plain += "  - id: a\n    model: {provider: offline, model: e}\n"
    path = tmp_path / "agents.yaml"
    path.write_text(plain)
    runtime = await Runtime.from_paths([path], watch=True, close_grace=0)
    events: list[RuntimeEvent] = []
    runtime.add_listener(events.append)
    await runtime.start()
    try:
        assert runtime.snapshot.agents["a"].toolbox.names == []
        await saved_until_seen(  # adds three tools to agent a
            lambda: write(tmp_path, CONFIG), lambda: runtime.snapshot.agents["a"].toolbox.names
        )
        assert runtime.snapshot.agents["a"].toolbox.names == ["clock", "fetcher", "helper"]
        good = runtime.snapshot
        broken = path.read_text().replace(":get_time", ":get_tme")
        path.write_text(broken)
        await wait_until(
            lambda: runtime.last_error is not None,
            timeout=5,
        )
        assert runtime.snapshot is good  # the old config keeps serving
        error = runtime.last_error
        assert error is not None and (error.line, error.path) == (7, "tools.clock.function")
        assert "reload-failed" in [e.kind for e in events if isinstance(e, ConfigEvent)]
        assert await runtime.snapshot.agents["a"].run("/tool clock {}") == (
            "echo (3 messages): clock -> 12:00 UTC"
        )
    finally:
        await runtime.close()
