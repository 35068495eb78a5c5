"""``output:`` (structured output) and the tools' ``approval`` in agents.yaml: validate's errors
and warnings at the YAML line (a ``$ref`` schema file at the ``$ref`` line), and what the built
agents and tools carry: output specs, and tool specs that say which calls wait for a person
(python, agent and MCP tools; ``validate --connect`` on approval globs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from helpers.mcp_servers import demo_config
from helpers.paths import REPO_ROOT

from vel_runner import Agent, AgentTool, FunctionTool
from vel_runner.config.build import build
from vel_runner.config.validate import check_config, load_config
from vel_runner.runtime import Runtime
from vel_runner.tools import MCPSource, ToolDefinitionError

ROOT = REPO_ROOT

MODELS = '''
from typing import Literal
from pydantic import BaseModel

class Ticket(BaseModel):
    """A support ticket."""
    title: str
    priority: Literal["low", "high"]

class Loose(BaseModel):
    data: dict

NOT_PYDANTIC = 3

def wipe(path: str) -> str:
    """Wipe a path."""
    return f"wiped {path}"
'''

STRICT = (
    '{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], '
    '"additionalProperties": false}'
)

BROKEN = """\
version: 1
providers:
  offline: {type: echo}
agents:
  - id: loose
    model: {provider: offline, model: e}
    output:
      schema: {type: object, properties: {title: {type: string}}}
  - id: missing
    model: {provider: offline, model: e}
    output:
      schema: {$ref: schemas/missing.json}
  - id: notstrict
    model: {provider: offline, model: e}
    output:
      schema: {$ref: schemas/loose.json}
  - id: notjson
    model: {provider: offline, model: e}
    output:
      schema: {$ref: schemas/broken.json}
  - id: freeform
    model: {provider: offline, model: e}
    output: {type: "MOD:Loose"}
  - id: notmodel
    model: {provider: offline, model: e}
    output: {type: "MOD:NOT_PYDANTIC"}
  - id: nomodule
    model: {provider: offline, model: e}
    output: {type: "no_such_module_xyz:Ticket"}
  - id: neither
    model: {provider: offline, model: e}
    output: {name: x}
  - id: typo
    model: {provider: offline, model: e}
    output:
      schema: {type: object, properties: {a: {type: strng}}, required: [a],
               additionalProperties: false}
  - id: fragment
    model: {provider: offline, model: e}
    output:
      schema: {$ref: "schemas/good.json#/defs/a"}
"""


def write(tmp_path: Path, text: str) -> Path:
    """The config with a fresh module (a unique name: modules are cached) and schema files."""
    module = f"models_{uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(MODELS)
    schemas = tmp_path / "schemas"
    schemas.mkdir(exist_ok=True)
    (schemas / "good.json").write_text(STRICT)
    (schemas / "good.yaml").write_text(
        "type: object\nproperties: {b: {type: integer}}\nrequired: [b]\n"
        "additionalProperties: false\n"
    )
    (schemas / "loose.json").write_text('{"type": "object", "properties": {"a": {}}}')
    (schemas / "broken.json").write_text("{nope")
    path = tmp_path / "agents.yaml"
    path.write_text(text.replace("MOD", module))
    return path


def test_every_output_problem_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    config, issues = check_config([path])
    assert config is None
    found = {(i.line, i.path): (i.message, i.hint) for i in issues}
    message, hint = found[(8, "agents[0].output.schema")]
    assert "does not fit OpenAI's strict mode" in message and "missing title" in message
    assert hint and "additionalProperties: false" in hint
    message, _ = found[(12, "agents[1].output.schema.$ref")]
    assert f"cannot read output schema file {str(tmp_path / 'schemas' / 'missing.json')!r}" in (
        message
    )
    message, _ = found[(16, "agents[2].output.schema.$ref")]
    assert message.startswith("schemas/loose.json: output schema does not fit")
    assert "a: a value of any type is not allowed" in message
    assert "is not valid: Expecting property name" in found[(20, "agents[3].output.schema.$ref")][0]
    assert "data: a free-form object" in found[(23, "agents[4].output.type")][0]
    assert "must be a pydantic BaseModel subclass, got 3" in found[(26, "agents[5].output.type")][0]
    message, hint = found[(29, "agents[6].output.type")]
    assert "module 'no_such_module_xyz' does not import" in message
    assert hint and str(tmp_path) in hint
    assert "exactly one of schema" in found[(32, "agents[7].output")][0]
    message, hint = found[(36, "agents[8].output.schema")]
    assert "not a valid JSON Schema: properties/a/type" in message and hint
    assert "must name a .json or .yaml file" in found[(41, "agents[9].output.schema.$ref")][0]
    assert len(issues) == 10


def test_validate_cli_reports_a_ref_file_at_the_ref_line(tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    done = subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "validate", "--format", "json", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    issues = json.loads(done.stdout)["issues"]
    ref = next(i for i in issues if i["path"] == "agents[1].output.schema.$ref")
    assert (ref["line"], ref["column"]) == (12, 22) and ref["code"] == "output"


GOOD = """\
version: 1
providers:
  offline: {type: echo}
agents:
  - id: inline
    model: {provider: offline, model: e}
    output:
      name: ticket
      description: One ticket.
      schema:
        type: object
        properties: {title: {type: string}, priority: {enum: [low, high]}}
        required: [title, priority]
        additionalProperties: false
  - id: fromjson
    model: {provider: offline, model: e}
    output: {schema: {$ref: schemas/good.json}}
  - id: fromyaml
    model: {provider: offline, model: e}
    output: {schema: {$ref: schemas/good.yaml}}
  - id: typed
    model: {provider: offline, model: e}
    output: {type: "MOD:Ticket"}
  - id: plain
    model: {provider: offline, model: e}
"""


def test_valid_outputs_are_built_into_the_agents(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_config([path])
    agents = build(config).snapshot.agents
    inline = agents["inline"].output
    assert inline is not None and (inline.name, inline.description) == ("ticket", "One ticket.")
    assert inline.schema["required"] == ["title", "priority"]
    assert agents["fromjson"].output is not None
    assert agents["fromjson"].output.schema == json.loads(STRICT)
    assert agents["fromyaml"].output is not None
    assert agents["fromyaml"].output.schema["required"] == ["b"]
    typed = agents["typed"].output
    assert typed is not None and typed.model is not None and typed.name == "Ticket"
    assert typed.parse('{"title": "t", "priority": "low"}').typed.title == "t"
    assert agents["plain"].output is None
    # a changed schema file is a changed config, though agents.yaml is the same
    (tmp_path / "schemas" / "good.json").write_text(STRICT.replace('"string"', '"integer"'))
    assert load_config([path]).version != config.version


APPROVALS = """\
version: 1
providers:
  offline: {type: echo}
tools:
  wipe: {type: python, function: "MOD:wipe", approval: required, approval_timeout: 10m}
  peek: {type: python, function: "MOD:wipe"}
  globbed: {type: python, function: "MOD:wipe", approval: [glob*]}
  helper: {type: agent, agent: b, approval: required}
agents:
  - id: a
    model: {provider: offline, model: e}
    tools: [wipe, peek, globbed, helper]
  - id: b
    model: {provider: offline, model: e}
"""


def test_tool_specs_say_which_calls_wait_for_approval(tmp_path: Path) -> None:
    config = load_config([write(tmp_path, APPROVALS)])
    specs = {s.name: s for s in build(config).snapshot.agents["a"].toolbox.specs()}
    assert (specs["wipe"].approval, specs["wipe"].approval_timeout) == (True, 600.0)
    assert (specs["peek"].approval, specs["peek"].approval_timeout) == (False, None)
    assert specs["globbed"].approval is True and specs["helper"].approval is True
    assert specs["helper"].approval_timeout is None  # as long as the session lives


@pytest.mark.parametrize(
    ("line", "path", "message", "severity"),
    [
        (
            "  t: {type: python, function: 'MOD:wipe', approval: sometimes}",
            "tools.t.approval",
            "must be 'required', got 'sometimes'",
            "error",
        ),
        (
            "  t: {type: mcp, command: x, allow: [a], approval: []}",
            "tools.t.approval",
            "an empty approval list: no call waits for approval",
            "warning",
        ),
        (
            "  t: {type: python, function: 'MOD:wipe', approval: required, approval_timeout: 0}",
            "tools.t.approval_timeout",
            "approval_timeout must be greater than 0",
            "error",
        ),
        (
            "  t: {type: agent, agent: b, approval: required, approval_timeout: soon}",
            "tools.t.approval_timeout",
            "is not valid here",
            "error",
        ),
        (
            "  t: {type: python, function: 'MOD:wipe', approval_timeout: 5m}",
            "tools.t.approval_timeout",
            "approval_timeout has no effect without approval",
            "warning",
        ),
        (
            "  t: {type: python, function: 'MOD:wipe', approval: [write_*]}",
            "tools.t.approval",
            "no approval glob matches the tool's name 't'",
            "warning",
        ),
    ],
)
def test_approval_settings_are_checked_at_their_line(
    tmp_path: Path, line: str, path: str, message: str, severity: str
) -> None:
    text = (
        "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n" + line + "\nagents:\n"
        "  - id: a\n    model: {provider: offline, model: e}\n    tools: [t]\n"
        "  - id: b\n    model: {provider: offline, model: e}\n"
    )
    config, issues = check_config([write(tmp_path, text)])
    found = [i for i in issues if i.path == path]
    assert len(found) == 1, issues
    assert found[0].line == 5 and message in found[0].message
    assert found[0].severity == severity
    assert (config is None) == (severity == "error")


def test_library_tools_take_the_same_approval_option() -> None:
    def wipe(path: str) -> str:
        """Wipe a path."""
        return path

    assert FunctionTool(wipe, approval=True).spec.approval is True
    tool = FunctionTool(wipe, approval="required", approval_timeout=30)
    assert (tool.spec.approval, tool.spec.approval_timeout) == (True, 30.0)
    assert FunctionTool(wipe, approval=["wi*"]).spec.approval is True
    assert FunctionTool(wipe, approval=["other"]).spec.approval is False
    assert FunctionTool(wipe).spec.approval is False
    helper = Agent("helper", {"provider": "echo", "model": "e"})
    assert AgentTool(helper, approval=True).spec.approval is True
    with pytest.raises(ToolDefinitionError, match="approval must be 'required', True, or a list"):
        FunctionTool(wipe, approval="always")
    with pytest.raises(ToolDefinitionError, match="approval_timeout is set but approval is not"):
        FunctionTool(wipe, approval_timeout=5)
    with pytest.raises(ToolDefinitionError, match="approval_timeout must be a positive number"):
        FunctionTool(wipe, approval=True, approval_timeout=0)
    agent = Agent(
        "a", {"provider": "echo", "model": "e"}, tools=[FunctionTool(wipe, approval=True)]
    )
    assert agent.toolbox.specs()[0].approval is True


def mcp_config(approval: str) -> str:
    """The demo server's tools under ``approval`` (agent ``ops``)."""
    return demo_config('add, echo, "list_*"', f"approval: {approval}", "approval_timeout: 1h")


async def test_mcp_approval_globs_match_the_servers_own_tool_names(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(mcp_config('[add, "list_*"]'))
    runtime = await Runtime.from_paths([path], watch=False, close_grace=0.0)
    async with runtime:
        specs = {s.name: s for s in runtime.agent("ops").toolbox.specs()}
    assert specs["d_add"].approval and specs["d_list_colors"].approval
    assert not specs["d_echo"].approval
    assert specs["d_add"].approval_timeout == 3600.0 and specs["d_echo"].approval_timeout == 3600.0
    assert MCPSource("x", {"approval": "required"}).approval is not None


def test_validate_connect_warns_about_approval_globs_that_match_no_tool(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(mcp_config('[add, "wirte_*"]'))
    done = subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", "validate", "--connect", str(path)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    warning = next(line for line in done.stdout.splitlines() if "'wirte_*'" in line)
    assert ":12:" in warning and "approval entry 'wirte_*' matches none of the tools" in warning
    assert "approval entry 'add'" not in done.stdout  # it matches a tool
