"""``vel-runner validate`` and ``vel-runner schema`` as people and CI run them: a real
subprocess, real exit codes, real output, and no heavy imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.paths import REPO_ROOT

ROOT = REPO_ROOT
HEAVY = ("openai", "textual", "fastapi", "uvicorn", "psycopg", "psycopg_pool", "starlette", "httpx")
GOOD = (
    "version: 1\nproviders:\n  offline: {type: echo}\n"
    "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
)
BAD = GOOD.replace("provider: offline, model", "provider: ofline, model") + (
    "  - id: b\n    model: {provider: offline, model: m}\n    colour: red\n"
)


def vel(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "POSTGRES_DSN")}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60,
    )  # fmt: skip


def test_the_shipped_file_is_valid_by_default() -> None:
    result = vel("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "valid: 6 agents in agents.yaml"  # no key needed


def test_the_console_script_runs() -> None:
    script = shutil.which("vel-runner")
    assert script is not None, "the vel-runner console script is not installed (pip install -e .)"
    result = subprocess.run(
        [script, "validate", str(ROOT / "agents.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_errors_are_listed_with_positions_and_hints(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(BAD)
    result = vel("validate", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:6:23: agents[0].model.provider: provider 'ofline' is not declared",
        "    hint: did you mean 'offline'? declared providers: offline",
        f"{path}:9:5: agents[1].colour: unknown key 'colour'",
        "    hint: allowed keys: context, description, generation, id, instructions, "
        "max_result_chars, max_steps, model, output, parallel_tool_calls, store, "
        "tool_concurrency, tools, ttl",
        "invalid: 2 errors, 0 warnings",
    ]
    assert "Traceback" not in result.stderr


def test_json_format(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(BAD)
    result = vel("validate", "--format", "json", str(path))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["exit_code"] == 1
    assert [(i["line"], i["column"], i["path"], i["severity"]) for i in report["issues"]] == [
        (6, 23, "agents[0].model.provider", "error"),
        (9, 5, "agents[1].colour", "error"),
    ]
    good = vel("validate", "-f", "json", str(ROOT / "agents.yaml"))
    assert json.loads(good.stdout)["agents"] == [
        "assistant", "translator", "support", "tutor", "concierge", "triage",
    ]  # fmt: skip


def test_github_annotations(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(BAD)
    result = vel("validate", "--format", "github", str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"::error file={path},line=6,col=23,title=vel-runner validate::agents[0].model.provider: "
        "provider 'ofline' is not declared"
        "%0Ahint: did you mean 'offline'? declared providers: offline"
    )
    assert lines[1].startswith(f"::error file={path},line=9,col=5,")


def test_exit_codes_for_io_and_usage_errors(tmp_path: Path) -> None:
    missing = vel("validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "file not found" in missing.stdout
    empty_dir = vel("validate", str(tmp_path))
    assert empty_dir.returncode == 2 and "no .yaml files in directory" in empty_dir.stdout
    usage = vel("validate", "--format", "xml")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "file is empty"),
        (b"- a\n- b\n", "expected a mapping, got a list"),
        (b"version: 1\nagents:\n\t- id: a\n", "a tab character"),
        (b"version: 1\nversion: 1\n", "duplicate key 'version'"),
        (b"version: 1\nx: \xff\xfe\n", "not UTF-8"),
        (b"version: 1\nagents: [\n", "YAML syntax error"),
        (b"# " + b"x" * (5 * 1024 * 1024), "limited to 4 MiB"),
    ],
    ids=["empty", "list", "tab", "duplicate-key", "non-utf8", "syntax", "huge"],
)
def test_broken_files_give_a_clear_error_never_a_traceback(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "agents.yaml"
    path.write_bytes(content)
    result = vel("validate", str(path))
    assert result.returncode == 1
    assert fragment in result.stdout and result.stdout.startswith(f"{path}:")
    assert result.stderr == ""


def test_secrets_are_never_printed(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(
        "version: 1\nproviders:\n"
        "  oa: {type: openai, api_key: '${MY_KEY}', base_url: '${MY_KEY}'}\n"
        "agents:\n  - id: a\n    model: {provider: oa, model: m}\n"
    )
    secret = "sk-proj-supersecret-0123456789"
    for fmt in ("text", "json", "github"):
        result = vel("validate", "-f", fmt, str(path), env={"MY_KEY": secret})
        assert result.returncode == 1 and "${MY_KEY}" in result.stdout
        assert secret not in result.stdout + result.stderr


TYPO = "version: 1\nproviders:\n  offline:\n    typee: echo\n"
LITERAL_CREDENTIALS = GOOD.replace(
    "agents:",
    "  gw: {type: openai, base_url: 'https://bob:hunter2@gw/v1'}\n"
    "stores:\n  pg: {type: database, dsn: 'vel:hunter2@db/vel'}\nagents:",
)


def test_a_misspelt_key_is_named_in_every_format(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(TYPO)
    text = vel("validate", str(path))
    assert text.returncode == 1
    assert f"{path}:4:5: providers.offline.typee: unknown key 'typee'" in text.stdout
    assert "    hint: did you mean 'type'? allowed keys: " in text.stdout
    assert f"{path}:4:5: providers.offline: missing required key 'type'" in text.stdout
    report = json.loads(vel("validate", "-f", "json", str(path)).stdout)
    found = [(i["line"], i["path"], i["code"]) for i in report["issues"]]
    assert (4, "providers.offline.typee", "unknown-key") in found
    assert (4, "providers.offline", "invalid") in found
    github = vel("validate", "-f", "github", str(path)).stdout
    assert (
        f"::error file={path},line=4,col=5,title=vel-runner validate::providers.offline.typee: "
        "unknown key 'typee'%0Ahint: did you mean 'type'?"
    ) in github


def test_literal_credentials_warn_in_every_format(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(LITERAL_CREDENTIALS)
    text = vel("validate", str(path))
    assert text.returncode == 0, text.stdout  # a warning leaves the exit code alone
    assert f"{path}:4:32: providers.gw.base_url: warning: a secret is written" in text.stdout
    assert f"{path}:6:29: stores.pg.dsn: warning: a secret is written" in text.stdout
    report = json.loads(vel("validate", "-f", "json", str(path)).stdout)
    assert report["exit_code"] == 0
    assert [(i["line"], i["severity"], i["code"]) for i in report["issues"]] == [
        (4, "warning", "secret"),
        (6, "warning", "secret"),
    ]
    github = vel("validate", "-f", "github", str(path))
    assert github.returncode == 0
    assert f"::warning file={path},line=4,col=32," in github.stdout
    assert f"::warning file={path},line=6,col=29," in github.stdout
    assert vel("validate", "--strict", str(path)).returncode == 1
    for result in (text, github):
        assert "hunter2" not in result.stdout + result.stderr
    assert "hunter2" not in json.dumps(report["issues"])


def test_unset_variables_error_only_where_used(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(GOOD.replace("agents:", "  oa: {type: openai, api_key: '${MY_KEY}'}\nagents:"))
    warned = vel("validate", str(path))
    assert (
        warned.returncode == 0 and "warning: environment variable MY_KEY not set" in warned.stdout
    )
    assert vel("validate", "--strict", str(path)).returncode == 1
    path.write_text(path.read_text().replace("provider: offline, model", "provider: oa, model"))
    failed = vel("validate", str(path))
    assert (
        failed.returncode == 1
        and "MY_KEY not set (${MY_KEY}, needed by agent 'a')" in failed.stdout
    )
    assert vel("validate", str(path), env={"MY_KEY": "k"}).returncode == 0


def test_several_files_merge_and_each_checks_them_alone(tmp_path: Path) -> None:
    (tmp_path / "agents.yaml").write_text(GOOD)
    (tmp_path / "more.yaml").write_text(
        "version: 1\nagents:\n  - id: b\n    model: {provider: offline, model: m}\n"
    )
    merged = vel("validate", "agents.yaml", "--config", "more.yaml", cwd=tmp_path)
    assert merged.returncode == 0 and "valid: 2 agents" in merged.stdout
    each = vel("validate", "--each", "agents.yaml", "more.yaml", cwd=tmp_path)
    assert each.returncode == 1 and "provider 'offline' is not declared" in each.stdout


#: What ``vel-runner validate`` must not import: the SDKs, the server stack, the dashboard, the
#: runtime's libraries (pydantic, asyncio, the python jsonschema) and the turn engine.
NOT_FOR_VALIDATE = (
    *HEAVY, "mcp", "pydantic", "pydantic_core", "jsonschema", "asyncio",
    "vel_runner.agent", "vel_runner.events", "vel_runner.runtime", "vel_runner.providers",
    "vel_runner.storage", "vel_runner.server", "vel_runner.tui", "vel_runner.context",
    "vel_runner.tools.toolbox", "vel_runner.tools.mcp_source", "vel_runner.tools.loop",
)  # fmt: skip


@pytest.mark.parametrize("argv", [["validate"], ["validate", "--format", "json"], ["schema"]])
def test_validate_and_schema_import_only_what_they_use(argv: list[str]) -> None:
    """The shipped file has a python tool (the calculator): its plain signature is checked
    without pydantic. On the old main ``import vel_runner`` pulled in the whole engine."""
    code = (
        "import sys\nfrom vel_runner.cli import main\n"
        f"rc = main({[*argv, str(ROOT / 'agents.yaml')] if argv[0] == 'validate' else argv!r})\n"
        "loaded = sorted(m for m in sys.modules "
        f"if any(m == n or m.startswith(n + '.') for n in {NOT_FOR_VALIDATE!r}))\n"
        "print('LOADED', loaded)\nsys.exit(rc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout, result.stdout[-400:]


def test_a_non_plain_tool_signature_still_gets_the_full_check(tmp_path: Path) -> None:
    """validate skips pydantic only for plain hints: a dict parameter (which strict mode
    refuses) is still reported, so the fast path loses no check."""
    (tmp_path / "mytools.py").write_text(
        "def free(data: dict) -> str:\n    return 'x'\n"
        "def fine(city: str, days: int = 3, unit: str | None = None) -> str:\n    return city\n"
        "def hidden(_key: str) -> str:\n    return _key\n"
    )
    (tmp_path / "agents.yaml").write_text(
        GOOD + "tools:\n  free: {type: python, function: 'mytools:free'}\n"
        "  fine: {type: python, function: 'mytools:fine'}\n"
        "  hidden: {type: python, function: 'mytools:hidden'}\n"
    )
    result = vel("validate", "agents.yaml", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "tools.free.function: tool 'free': the arguments of free do not fit" in result.stdout
    assert "tools.hidden.function: tool 'hidden': cannot build a JSON Schema" in result.stdout
    assert "tools.fine" not in result.stdout


def test_only_the_chosen_command_is_configured() -> None:
    """``vel-runner --help`` lists every command; each command's own options still parse."""
    listing = vel("--help")
    assert listing.returncode == 0
    for name in ("validate", "schema", "serve", "monitor", "migrate", "sessions"):
        assert name in listing.stdout
    for name in ("serve", "monitor", "migrate", "sessions"):
        result = vel(name, "--help")
        assert result.returncode == 0 and f"usage: vel-runner {name}" in result.stdout
    assert vel("serve", "--bogus").returncode == 2
    assert vel().returncode == 2


def test_schema_command_prints_the_schema(tmp_path: Path) -> None:
    result = vel("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(
        (ROOT / "schema" / "agents.schema.json").read_text()
    )
    out = tmp_path / "schema.json"
    assert vel("schema", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text())["title"] == "vel-runner agents.yaml"


@pytest.mark.parametrize("name", ["agents.schema.json", "eval.schema.json"])
def test_the_package_schema_is_the_repository_schema(name: str) -> None:
    link = ROOT / "vel_runner" / "schema" / name
    assert link.is_symlink() and os.readlink(link) == f"../../schema/{name}"
    assert link.read_text() == (ROOT / "schema" / name).read_text()


def test_pre_commit_hooks_run_validate() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {hook["id"]: hook["entry"] for hook in hooks} == {
        "vel-runner-validate": "vel-runner validate",
        "vel-runner-validate-each": "vel-runner validate --each",
        "vel-runner-eval": "vel-runner eval --replay",
    }
