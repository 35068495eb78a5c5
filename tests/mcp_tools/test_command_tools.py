"""``vel-runner tools`` (and ``validate --connect`` on success): each agent's tools the way its
model sees them, with their sources, against a real MCP server started as a subprocess; exit
codes 0 listed, 1 a server could not be used, 2 config or I/O."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers.mcp_servers import DEMO

SECRET = "sk-tools-listing-secret-77"

CONFIG = f"""\
version: 1
providers:
  offline: {{type: echo}}
tools:
  demo:
    type: mcp
    command: {sys.executable}
    args: [{DEMO}, stdio]
    env: {{DEMO_TOKEN: "${{DEMO_TOKEN}}"}}
    allow: [add, echo]
    prefix: d_
  calculator: {{type: python, function: "vel_runner.demo_tools:calculate", timeout: 5s}}
  helper: {{type: agent, agent: b, description: Ask b.}}
agents:
  - id: a
    model: {{provider: offline, model: e}}
    tools: [calculator, demo, helper]
  - id: b
    model: {{provider: offline, model: e}}
    tools: [demo.echo]
"""

#: Runs the command and fails if it imported what it does not need (the mcp SDK itself
#: brings in parts of a server stack: that is its own).
RUN = """\
import sys
from vel_runner.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("openai", "textual", "fastapi") if m in sys.modules]
assert not heavy, f"imported {heavy}"
sys.exit(code)
"""


def vel(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN, *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={**os.environ, "DEMO_TOKEN": SECRET},
    )


def write(tmp_path: Path, text: str = CONFIG) -> str:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    return str(path)


def test_text_lists_each_agents_tools_with_sources_and_schemas(tmp_path: Path) -> None:
    done = vel(tmp_path, "tools", "-c", write(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.splitlines()[0] == "agent a: 4 tools"
    assert "  calculator  <- python function vel_runner.demo_tools:calculate" in out
    assert "  d_add  <- MCP server demo (stdio), its tool 'add'" in out
    assert "  helper  <- agent b" in out and "      Ask b." in out
    assert "      Add two integers." in out
    calc_params = out.split("<- python function")[1].splitlines()[2]
    assert calc_params.startswith("      parameters (strict): {")  # python tools are strict
    assert '"expression"' in calc_params
    assert "agent b: 1 tool\n  d_echo  <- MCP server demo (stdio), its tool 'echo'" in out
    assert SECRET not in out + done.stderr


def test_json_for_one_agent_is_what_the_model_receives(tmp_path: Path) -> None:
    done = vel(tmp_path, "tools", "a", "-c", write(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["exit_code"] == 0 and report["unreachable"] == []
    (agent,) = report["agents"]
    tools: dict[str, Any] = {tool["name"]: tool for tool in agent["tools"]}
    assert list(tools) == ["calculator", "d_add", "d_echo", "helper"]
    assert tools["d_add"]["source"] == {
        "type": "mcp", "server": "demo", "transport": "stdio", "tool": "add"
    }  # fmt: skip
    assert "strict" not in tools["d_add"]  # MCP schemas go as the server wrote them
    assert tools["d_add"]["parameters"]["required"] == ["a", "b"]
    assert tools["calculator"]["strict"] is True
    assert tools["calculator"]["source"] == {
        "type": "python", "function": "vel_runner.demo_tools:calculate"
    }  # fmt: skip
    assert tools["helper"]["source"] == {"type": "agent", "agent": "b"}
    assert tools["helper"]["parameters"]["required"] == ["input"]


def test_a_server_that_cannot_be_used_exits_1_and_the_rest_is_listed(tmp_path: Path) -> None:
    config = CONFIG.replace(f"command: {sys.executable}", "command: /no/such/server")
    done = vel(tmp_path, "tools", "-c", write(tmp_path, config), "-f", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["unreachable"] == ["demo"] and report["exit_code"] == 1
    a = report["agents"][0]
    assert [tool["name"] for tool in a["tools"]] == ["calculator", "helper"]
    assert a["left_out"] == ["demo: MCP server 'demo' could not be reached"]
    assert "MCP server 'demo' cannot be used: FileNotFoundError" in done.stderr
    assert SECRET not in done.stdout + done.stderr


def test_config_and_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = vel(tmp_path, "tools", "-c", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr
    invalid = vel(
        tmp_path, "tools", "-c", write(tmp_path, CONFIG.replace("agent: b,", "agent: zz,"))
    )
    assert invalid.returncode == 2 and "'zz'" in invalid.stderr
    unknown = vel(tmp_path, "tools", "nobody", "-c", write(tmp_path))
    assert unknown.returncode == 2
    assert "no agent 'nobody' (agents: a, b)" in unknown.stderr


def test_validate_connect_lists_the_tools_when_valid(tmp_path: Path) -> None:
    path = write(tmp_path)
    done = vel(tmp_path, "validate", "--connect", path)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("valid: 2 agents in ")
    assert "agent a: 4 tools" in done.stdout
    assert "  d_add  <- MCP server demo (stdio), its tool 'add'" in done.stdout
    report = json.loads(vel(tmp_path, "validate", "--connect", "-f", "json", path).stdout)
    assert report["valid"] and [t["name"] for t in report["tools"][1]["tools"]] == ["d_echo"]
    # without --connect, nothing is started and nothing listed
    offline = vel(tmp_path, "validate", path)
    assert offline.returncode == 0 and "agent a:" not in offline.stdout
