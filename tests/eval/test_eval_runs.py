"""How cases run: ``-j N`` runs at once (proved by a tool that waits for the others), named
sessions continued in file order, fresh sessions otherwise, repeats with ``pass_rate``,
streamed turns, and ``stub_tools`` that keep a tool from touching the world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import eval_tools
from helpers.evals import project, run_eval

MEET = """\
agent: helper
cases:
"""
for _n in range(3):
    MEET += (
        f"  - name: meets {_n}\n    turns:\n"
        '      - user: \'/tool meet {"group": 3, "seconds": SECONDS}\'\n'
        "        expect: {contains: met}\n"
    )


@pytest.fixture(autouse=True)
def _fresh_tools() -> None:
    eval_tools.reset()


def test_jobs_run_cases_at_the_same_time(tmp_path: Path) -> None:
    config = project(tmp_path, {"meet.eval.yaml": MEET.replace("SECONDS", "30")})
    result = run_eval("-c", str(config), "-j", "3")
    assert result.code == 0, result.out
    assert eval_tools.STATE["peak"] == 3


def test_one_job_runs_one_case_at_a_time(tmp_path: Path) -> None:
    config = project(tmp_path, {"meet.eval.yaml": MEET.replace("SECONDS", "0.01")})
    result = run_eval("-c", str(config), "-f", "json")  # -j 1 is the default
    assert eval_tools.STATE["peak"] == 1
    assert [c["passed"] for c in result.json()["cases"]] == [False, False, True]  # 3rd: all came


SESSIONS = """\
agent: helper
cases:
  - name: introduces
    session: alice
    turns:
      - user: My name is Alice
        expect: {contains: "(2 messages)"}
  - name: a fresh session sees nothing before
    turns:
      - user: What is my name?
        expect: {contains: "(2 messages)"}
  - name: asks, later, on the same session
    session: alice
    turns:
      - user: What is my name?
        expect: {contains: "(4 messages)"}
      - user: And again?
        expect: {contains: "(6 messages)"}
  - name: another agent's session of the same name is another conversation
    agent: plain
    session: alice
    turns:
      - user: hello
        expect: {contains: "(1 messages)"}
"""


@pytest.mark.parametrize("jobs", ["1", "4"])
def test_named_sessions_continue_in_file_order(tmp_path: Path, jobs: str) -> None:
    config = project(tmp_path, {"sessions.eval.yaml": SESSIONS})
    result = run_eval("-c", str(config), "-j", jobs)
    assert result.code == 0, result.out


def test_repeats_fresh_sessions_and_pass_rate(tmp_path: Path) -> None:
    evals = (
        "agent: helper\ncases:\n"
        "  - name: every repeat is a fresh conversation\n    repeat: 4\n    turns:\n"
        "      - user: hi\n        expect: {contains: '(2 messages)'}\n"
        "  - name: a named session goes on across repeats\n    repeat: 3\n    pass_rate: 0.3\n"
        "    session: s\n    turns:\n      - user: hi\n        expect: {contains: '(2 messages)'}\n"
        "  - name: below the pass rate\n    repeat: 2\n    pass_rate: 0.6\n    session: t\n"
        "    turns:\n      - user: hi\n        expect: {contains: '(2 messages)'}\n"
    )
    config = project(tmp_path, {"repeat.eval.yaml": evals})
    result = run_eval("-c", str(config), "-j", "4", "-f", "json")
    assert result.code == 1
    first = result.case("every repeat is a fresh conversation")
    assert (first["passed"], first["runs_passed"], len(first["runs"])) == (True, 4, 4)
    assert [r["repeat"] for r in first["runs"]] == [0, 1, 2, 3]
    second = result.case("a named session goes on across repeats")
    assert [r["passed"] for r in second["runs"]] == [True, False, False]
    assert second["passed"]  # 1/3 >= 0.3
    third = result.case("below the pass rate")
    assert (third["passed"], third["runs_passed"]) == (False, 1)
    text = run_eval("-c", str(config), "-k", "below")
    assert text.out.splitlines()[:2] == [
        f"FAILED {tmp_path / 'evals' / 'repeat.eval.yaml'}:15: below the pass rate "
        "(1/2 runs passed, pass_rate 0.6)",
        "  run 2 of 2:",
    ]


def test_streamed_turns_are_read_from_the_events(tmp_path: Path) -> None:
    evals = (
        "agent: helper\nstream: true\ncases:\n  - name: streamed\n    turns:\n"
        '      - user: \'/tool add {"a": 4, "b": 5}\'\n'
        "        expect: {tool_calls: [{name: add, input: {a: 4, b: 5}}], contains: 'add -> 9'}\n"
        "      - user: two words\n        expect: {equals: 'echo (6 messages): two words'}\n"
        "  - name: not streamed\n    stream: false\n    turns:\n      - user: hi\n"
        "        expect: {equals: 'echo (2 messages): hi'}\n"
    )
    config = project(tmp_path, {"stream.eval.yaml": evals})
    result = run_eval("-c", str(config), "-f", "json")
    assert result.code == 0, result.out
    turn = result.case("streamed")["runs"][0]["turns"][0]
    [call] = turn["answer"]["tool_calls"]
    assert call == {"name": "add", "input": {"a": 4, "b": 5}, "output": "9"}


STUBS = """\
agent: helper
stub_tools: {add: 1000}
cases:
  - name: stubbed
    stub_tools: {launch: {status: stubbed, id: 7}}
    turns:
      - user: '/tool launch {"target": "rocket"}'
        expect: {contains: 'launch -> {"status": "stubbed", "id": 7}'}
      - user: '/tool add {"a": 1, "b": 1}'
        expect: {contains: "add -> 1000"}
  - name: real
    turns:
      - user: '/tool launch {"target": "balloon"}'
        expect: {contains: "launch -> launched balloon"}
"""


def test_stubbed_tools_answer_their_stub_and_run_nothing(tmp_path: Path) -> None:
    config = project(tmp_path, {"stubs.eval.yaml": STUBS})
    result = run_eval("-c", str(config), "-j", "2")
    assert result.code == 0, result.out
    assert eval_tools.LAUNCHED == ["balloon"]  # the rocket never launched


def test_a_stub_for_a_tool_the_agent_lacks_is_a_file_error(tmp_path: Path) -> None:
    evals = (
        "agent: helper\nstub_tools: {nope: 1}\ncases:\n  - name: x\n"
        "    stub_tools: {lanch: 1}\n    turns:\n      - user: hi\n"
    )
    config = project(tmp_path, {"bad.eval.yaml": evals})
    result = run_eval("-c", str(config))
    assert result.code == 2
    path = tmp_path / "evals" / "bad.eval.yaml"
    assert result.out.splitlines() == [
        f"{path}:2:14: stub_tools.nope: no agent of this file has a tool 'nope'",
        "    hint: its tools: add, launch, meet",
        f"{path}:5:18: cases[0].stub_tools.lanch: agent 'helper' has no tool 'lanch'",
        "    hint: did you mean 'launch'? its tools: add, launch, meet",
        "vel-runner eval: 2 errors in the config or eval files",
    ]


def test_same_named_sessions_of_two_files_are_two_conversations(tmp_path: Path) -> None:
    evals = (
        "agent: helper\ncases:\n  - name: first turn\n    session: s\n    turns:\n"
        "      - user: hi\n        expect: {contains: '(2 messages)'}\n"
    )
    config = project(tmp_path, {})
    for folder in ("a", "b"):  # the same file name in two folders
        (tmp_path / "evals" / folder).mkdir()
        (tmp_path / "evals" / folder / "same.eval.yaml").write_text(evals)
    result = run_eval("-c", str(config), "-j", "2")
    assert result.code == 0, result.out


TICKET_MODEL = """
from typing import Literal

from pydantic import BaseModel


class Ticket(BaseModel):
    title: str
    priority: Literal["low", "high"]
"""

TYPED_CONFIG = """\
version: 1
providers:
  offline: {type: echo}
agents:
  - id: triage
    model: {provider: offline, model: echo-1}
    output: {type: "ticket_models:Ticket"}
"""

TYPED_EVALS = """\
agent: triage
cases:
  - name: whole
    turns:
      - user: printer on fire
        expect: {object: {priority: low}}
  - name: streamed
    stream: true
    turns:
      - user: printer on fire
        expect: {object: {priority: low}}
"""


def test_object_reads_the_turns_structured_answer_whole_and_streamed(tmp_path: Path) -> None:
    """``object:`` checks the turn's own structured answer (``TurnResult.object`` as JSON,
    also when the output is a pydantic model; a streamed turn's ``finish`` metadata), and the
    JSON report shows it."""
    (tmp_path / "ticket_models.py").write_text(TICKET_MODEL)
    config = project(tmp_path, {"triage.eval.yaml": TYPED_EVALS}, TYPED_CONFIG)
    result = run_eval("-c", str(config), "-f", "json")
    assert result.code == 0, result.out
    expected = {"title": "echo (1 messages): printer on fire", "priority": "low"}
    for name in ("whole", "streamed"):
        answer = result.case(name)["runs"][0]["turns"][0]["answer"]
        assert answer["object"] == expected, name
        assert json.loads(answer["text"]) == expected
    missing = TYPED_EVALS.replace("{priority: low}", "{priority: high}")
    failed = run_eval("-c", str(project(tmp_path, {"triage.eval.yaml": missing}, TYPED_CONFIG)))
    assert failed.code == 1
    assert failed.out.count('priority is "low", expected "high"') == 2, failed.out
