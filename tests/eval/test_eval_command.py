"""``vel-runner eval`` as CI uses it: exit codes 0/1/2, config and eval-file errors at their
line exactly as ``validate`` prints them, JUnit XML, GitHub annotations, JSON, ``--output``,
``-k``, the progress line (only on a terminal, never under CI) and a lean start."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers.evals import CONFIG, project, run_eval
from helpers.paths import REPO_ROOT

ROOT = REPO_ROOT
#: For a subprocess: vel_runner from this tree, and the tests' ``helpers`` (the eval tools).
PYTHONPATH = os.pathsep.join([str(ROOT), str(ROOT / "tests")])

MIXED = """\
agent: helper
cases:
  - name: passes
    turns:
      - user: hello
        expect: {contains: hello}
  - name: fails
    turns:
      - user: one
      - user: two
        expect: {contains: three}
"""
PASSING = "agent: plain\ncases:\n  - name: passes too\n    turns:\n      - user: hi\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def test_exit_0_when_every_case_passes(here: Path) -> None:
    project(here, {"ok.eval.yaml": PASSING})
    result = run_eval()  # agents.yaml and evals/ beside it by default
    assert result.code == 0
    assert result.out.startswith("1 passed, 0 failed in ")


def test_exit_1_when_a_case_fails(here: Path) -> None:
    project(here, {"mixed.eval.yaml": MIXED, "ok.eval.yaml": PASSING})
    result = run_eval()
    assert result.code == 1
    assert result.out.splitlines()[0] == "FAILED evals/mixed.eval.yaml:7: fails"
    assert result.out.splitlines()[-1].startswith("2 passed, 1 failed in ")


def test_a_config_error_is_exit_2_as_validate_prints_it(here: Path) -> None:
    project(
        here,
        {"ok.eval.yaml": PASSING},
        CONFIG.replace(
            "{provider: offline, model: echo-1}\n  - id: oneshot",
            "{provider: ofline, model: echo-1}\n  - id: oneshot",
        ),
    )
    result = run_eval()
    validate = _vel(["validate"], here, capture_output=True)
    assert result.code == 2
    issue = validate.stdout.splitlines()[:2]
    assert issue == [
        "agents.yaml:14:23: agents[1].model.provider: provider 'ofline' is not declared",
        "    hint: did you mean 'offline'? declared providers: offline",
    ]
    assert result.out.splitlines() == [
        *issue,
        "vel-runner eval: 1 error in the config or eval files",
    ]


BAD_EVALS = {
    "schema.eval.yaml": (
        "agent: helper\ncases:\n  - name: x\n    turns:\n      - user: hi\n"
        "        expects: {contains: hi}\n"
    ),
    "refs.eval.yaml": (
        "agent: helpr\ncases:\n  - name: x\n    agent: plain\n    turns:\n      - user: hi\n"
        "        expect:\n          matches: ['ok', '(unclosed']\n"
        "          tool_calls: [{name: ad}]\n"
        "  - name: x\n    turns:\n      - user: hi\n"
    ),
    "yaml.eval.yaml": "cases:\n  - name: x\n\tturns: []\n",
}


def test_eval_file_errors_are_exit_2_at_their_lines(here: Path) -> None:
    project(here, BAD_EVALS)
    result = run_eval("-f", "text")
    assert result.code == 2
    assert result.out.splitlines() == [
        "evals/refs.eval.yaml:1:8: agent: agent 'helpr' is not declared in agents.yaml",
        "    hint: did you mean 'helper'? agents: helper, oneshot, plain",
        "evals/refs.eval.yaml:8:27: cases[0].turns[0].expect.matches[1]: invalid regular "
        "expression: missing ), unterminated subpattern at position 0",
        "    hint: a Python regular expression (re module); escape . * + ? ( ) [ ] with \\",
        "evals/refs.eval.yaml:9:31: cases[0].turns[0].expect.tool_calls[0].name: agent 'plain' "
        "has no tool 'ad'",
        "    hint: it has no tools",
        "evals/refs.eval.yaml:10:11: cases[1].name: duplicate case name 'x' (first at line 3)",
        "    hint: reports and cassettes name a case by its name: keep names unique",
        "evals/schema.eval.yaml:6:9: cases[0].turns[0].expects: unknown key 'expects'",
        "    hint: did you mean 'expect'? allowed keys: expect, user",
        "evals/yaml.eval.yaml:3:1: <root>: YAML syntax error: a tab character where YAML "
        "expects spaces",
        "    hint: YAML indents with spaces only; replace the tab with spaces",
        "vel-runner eval: 6 errors in the config or eval files",
    ]


def test_missing_files_and_an_empty_selection_are_exit_2(here: Path) -> None:
    project(here, {})
    result = run_eval()
    assert result.code == 2
    assert result.out.splitlines()[0] == "evals:1:1: <root>: no *.eval.yaml files in this directory"
    result = run_eval("evals/nowhere.eval.yaml")
    assert result.out.splitlines()[0] == "evals/nowhere.eval.yaml:1:1: <root>: file not found"
    (here / "evals" / "ok.eval.yaml").write_text(PASSING)
    result = run_eval("-k", "nothing like it")
    assert result.code == 2
    assert (
        result.err == "vel-runner eval: no case matches -k 'nothing like it' (1 cases in 1 files)\n"
    )


def test_k_selects_cases_by_file_and_name(here: Path) -> None:
    project(here, {"mixed.eval.yaml": MIXED, "ok.eval.yaml": PASSING})
    assert run_eval("-k", "PASSES").out.startswith("2 passed, 0 failed")
    assert run_eval("-k", "ok.eval.yaml::").out.startswith("1 passed, 0 failed")
    report = run_eval("-k", "ok.eval.yaml::", "-f", "json").json()
    assert report["files"] == ["evals/ok.eval.yaml"]  # only the files of the selected cases
    assert (
        run_eval("-k", "fails", "-k", "too").out.splitlines()[-1].startswith("1 passed, 1 failed")
    )


def test_junit_xml(here: Path) -> None:
    project(here, {"mixed.eval.yaml": MIXED, "ok.eval.yaml": PASSING})
    result = run_eval("--format", "junit", "--output", "report.xml")
    assert result.code == 1
    assert result.out.splitlines()[-1].startswith("2 passed, 1 failed")  # stdout: the text
    root = ET.parse(here / "report.xml").getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites", "3", "1", "0",
    )  # fmt: skip
    suites = {s.get("name"): s for s in root}
    assert sorted(suites) == ["evals/mixed.eval.yaml", "evals/ok.eval.yaml"]
    cases = suites["evals/mixed.eval.yaml"].findall("testcase")
    assert [(c.get("name"), c.get("line")) for c in cases] == [("passes", "3"), ("fails", "7")]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "turn 2: expected the answer to contain 'three'"
    assert failure.get("type") == "contains"
    assert failure.text == (
        "evals/mixed.eval.yaml:10: fails, turn 2\n"
        "  expected the answer to contain 'three'\n"
        "  answer: 'echo (4 messages): two'\n"
        "  tool calls: none"
    )


#: ``plain`` on an online provider (nothing listens there): without a cassette it cannot answer.
ONLINE = CONFIG.replace(
    "  offline: {type: echo}\n",
    "  offline: {type: echo}\n  cloud: {type: openai, api_key: k, base_url: 'http://127.0.0.1:9'}\n",
).replace("id: plain\n    model: {provider: offline", "id: plain\n    model: {provider: cloud")


def test_junit_errors_for_turns_that_raise_and_for_file_errors(here: Path) -> None:
    project(here, {"miss.eval.yaml": PASSING}, ONLINE)
    result = run_eval("--replay", "-f", "junit")  # no cassette: a cassette miss
    assert result.code == 1
    root = ET.fromstring(result.out)
    error = root.find("testsuite/testcase/error")
    assert error is not None and error.get("type") == "cassette-miss"
    assert error.get("message", "").startswith("turn 1: cassette miss in evals/miss.eval.yaml")
    assert (root.get("errors"), root.get("failures")) == ("1", "0")

    (here / "evals" / "miss.eval.yaml").write_text("agent: nobody\ncases: []\n")
    result = run_eval("-f", "junit")
    assert result.code == 2
    root = ET.fromstring(result.out)
    errors = root.findall("testsuite/testcase/error")
    assert [e.get("message") for e in errors] == [
        "evals/miss.eval.yaml:2:8: cases: at least 1 item needed",
    ]


def test_github_annotations_at_the_failing_turn(here: Path) -> None:
    project(here, {"mixed.eval.yaml": MIXED})
    result = run_eval("--format", "github")
    assert result.code == 1
    assert result.out.splitlines() == [
        "::error file=evals/mixed.eval.yaml,line=10,title=vel-runner eval%3A fails::turn 2 failed"
        "%0Aexpected the answer to contain 'three'%0Aanswer: 'echo (4 messages): two'"
        "%0Atool calls: none",
        result.out.splitlines()[-1],
    ]
    assert result.out.splitlines()[-1].startswith("vel-runner eval: 1 passed, 1 failed in ")
    (here / "evals" / "mixed.eval.yaml").write_text(MIXED.replace("agent: helper", "agent: helpr"))
    result = run_eval("--format", "github")
    assert result.out.startswith(
        "::error file=evals/mixed.eval.yaml,line=1,col=8,title=vel-runner eval::agent: agent "
        "'helpr' is not declared in agents.yaml%0Ahint: did you mean 'helper'?"
    )


def test_json_report_and_an_output_that_cannot_be_written(here: Path) -> None:
    project(here, {"mixed.eval.yaml": MIXED})
    result = run_eval("-f", "json", "-o", "out.json")
    assert result.code == 1
    report = json.loads((here / "out.json").read_text())
    assert (report["passed"], report["failed"], report["exit_code"], report["mode"]) == (
        1, 1, 1, "live",
    )  # fmt: skip
    assert report["cases"][1]["runs"][0]["turns"][1]["answer"] == {
        "text": "echo (4 messages): two",
        "tool_calls": [],
    }
    result = run_eval("-o", str(here / "no" / "such" / "dir" / "x.txt"))
    assert result.code == 2 and "cannot write" in result.err


def test_the_warnings_of_eval_files_are_shown_and_do_not_fail(here: Path) -> None:
    evals = "agent: oneshot\ncases:\n  - name: s\n    session: a\n    turns:\n      - user: hi\n"
    project(here, {"warn.eval.yaml": evals})
    result = run_eval()
    assert result.code == 0
    assert result.out.splitlines()[0] == (
        "evals/warn.eval.yaml:4:14: cases[0].session: warning: agent 'oneshot' is stateless: "
        "a session has no effect"
    )


def _vel(args: list[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    env.pop("CI", None)
    env.update(kw.pop("env", {}))  # type: ignore[arg-type]
    return subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", *args],
        cwd=cwd, env=env, text=True, timeout=120, **kw,  # type: ignore[call-overload]
    )  # fmt: skip


def _with_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; what the terminal showed."""
    leader, follower = pty.openpty()
    try:
        done = _vel(args, cwd, stdout=subprocess.DEVNULL, stderr=follower, env=env)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    return done.returncode, shown.decode()


def test_a_progress_line_only_on_a_terminal_and_never_under_ci(here: Path) -> None:
    project(here, {"mixed.eval.yaml": MIXED, "ok.eval.yaml": PASSING})
    code, shown = _with_a_terminal(["eval"], here, {})
    assert code == 1
    assert "\r\x1b[2K[0/3] 0 passed, 0 failed · running" in shown
    assert "[3/3] 2 passed, 1 failed" in shown
    assert shown.endswith("\r\x1b[2K")  # the line is cleared before the report
    code, shown = _with_a_terminal(["eval"], here, {"CI": "true"})
    assert (code, shown) == (1, "")
    piped = _vel(["eval"], here, capture_output=True)
    assert piped.returncode == 1 and piped.stderr == ""


def test_the_console_script_and_a_lean_start(here: Path) -> None:
    project(here, {"ok.eval.yaml": PASSING}, ONLINE)
    script = shutil.which("vel-runner")
    assert script is not None, "the vel-runner console script is not installed (pip install -e .)"
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    done = subprocess.run([script, "eval", "-k", "passes"], cwd=here, capture_output=True, env=env)
    assert done.returncode == 1  # plain is online, and nothing listens there
    probe = (
        "import sys\nfrom vel_runner.cli import main\n"
        "rc = main(['eval', '--replay', '-k', 'passes', '-f', 'json', '-o', 'out.json'])\n"
        "heavy = [m for m in ('openai', 'fastapi', 'uvicorn', 'textual', 'psycopg') "
        "if m in sys.modules]\nprint(rc, heavy)\n"
    )
    (here / "evals" / "ok.eval.yaml").write_text(PASSING.replace("plain", "helper"))
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=here, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
    )  # fmt: skip
    assert done.stdout.splitlines()[-1] == "0 []", done.stdout + done.stderr


def test_schema_eval_prints_the_eval_schema() -> None:
    done = _vel(["schema", "--eval"], ROOT, capture_output=True)
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert schema["title"] == "vel-runner eval file (*.eval.yaml)"
    assert schema == json.loads((ROOT / "schema" / "eval.schema.json").read_text())
    assert (ROOT / "vel_runner" / "schema" / "eval.schema.json").read_text() == done.stdout


def test_two_files_cannot_share_a_cassette(here: Path) -> None:
    project(
        here, {"a.eval.yaml": PASSING, "b.eval.yaml": "cassette: cassettes/a.jsonl\n" + PASSING}
    )
    result = run_eval()
    assert result.code == 2
    assert result.out.splitlines()[:2] == [
        "evals/b.eval.yaml:1:11: cassette: evals/a.eval.yaml records to the same cassette, "
        "evals/cassettes/a.jsonl",
        "    hint: give one of them another cassette: (each file's cases are kept apart)",
    ]
