"""Every expectation kind of ``*.eval.yaml``, passing and failing, through ``vel-runner eval``
on the offline echo agents (the echo reply shows what the model saw), plus the subset match
and the verdict parsing they rest on."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.evals import Ran, project, run_eval

from vel_runner.eval.expect import check, structured, subset_problem
from vel_runner.eval.judge import parse_verdict
from vel_runner.eval.runner import answer_of
from vel_runner.eval.spec import Expect

# helper has instructions: its first turn's model sees 2 messages (system, user).
CASES = """\
agent: helper
cases:
  - name: contains a text
    turns:
      - user: hello there
        expect: {contains: hello there}
  - name: contains every text of a list
    turns:
      - user: hello there
        expect: {contains: ["(2 messages)", hello]}
  - name: contains fails
    turns:
      - user: hello there
        expect: {contains: [hello, goodbye]}
  - name: not_contains
    turns:
      - user: hello there
        expect: {not_contains: [goodbye, farewell]}
  - name: not_contains fails
    turns:
      - user: hello there
        expect: {not_contains: there}
  - name: matches
    turns:
      - user: Hello There
        expect: {matches: ["(?i)hello there", "\\\\(\\\\d messages\\\\)"]}
  - name: matches fails
    turns:
      - user: hello
        expect: {matches: "^hello"}
  - name: equals
    turns:
      - user: hi
        expect: {equals: "  echo (2 messages): hi  "}
  - name: equals fails
    turns:
      - user: hi
        expect: {equals: "hi"}
  - name: a tool call, input a subset
    turns:
      - user: '/tool add {"a": 2, "b": 3}'
        expect:
          tool_calls: [{name: add, input: {a: 2}}]
          contains: "add -> 5"
  - name: a tool call with the wrong input
    turns:
      - user: '/tool add {"a": 2, "b": 3}'
        expect:
          tool_calls: [{name: add, input: {a: 9}}]
  - name: in order allows other calls between
    turns:
      - user: |-
          /tool add {"a": 1, "b": 1}
          /tool launch {"target": "x"}
          /tool add {"a": 2, "b": 2}
        expect:
          tool_calls: [{name: add, input: {a: 1}}, {name: add, input: {a: 2}}]
  - name: in order fails on the wrong order
    turns:
      - user: |-
          /tool add {"a": 1, "b": 1}
          /tool add {"a": 2, "b": 2}
        expect:
          tool_calls: [{name: add, input: {a: 2}}, {name: add, input: {a: 1}}]
  - name: exact fails on an extra call
    turns:
      - user: |-
          /tool add {"a": 1, "b": 1}
          /tool launch {"target": "x"}
        expect:
          tool_calls: [{name: add}]
          tool_calls_match: exact
  - name: exact
    turns:
      - user: |-
          /tool add {"a": 1, "b": 1}
          /tool launch {"target": "x"}
        expect:
          tool_calls: [{name: add}, {name: launch, input: {target: x}}]
          tool_calls_match: exact
  - name: any order
    turns:
      - user: |-
          /tool add {"a": 1, "b": 1}
          /tool add {"a": 2, "b": 2}
        expect:
          tool_calls: [{name: add, input: {a: 2}}, {name: add, input: {a: 1}}]
          tool_calls_match: any_order
  - name: any order needs a call per expected call
    turns:
      - user: '/tool add {"a": 1, "b": 1}'
        expect:
          tool_calls: [{name: add}, {name: add}]
          tool_calls_match: any_order
  - name: no tool calls
    turns:
      - user: just talk
        expect: {no_tool_calls: true}
  - name: no tool calls fails
    turns:
      - user: '/tool add {"a": 1, "b": 1}'
        expect: {no_tool_calls: true}
  - name: object
    turns:
      - user: '{"name": "Alice", "tags": ["a", "b"], "age": 30, "vip": true}'
        expect:
          object: {name: Alice, tags: [a, b], vip: true}
  - name: object fails on a value
    turns:
      - user: '{"name": "Alice", "age": 30}'
        expect:
          object: {name: Bob}
  - name: object fails on true for 1
    turns:
      - user: '{"vip": 1}'
        expect:
          object: {vip: true}
  - name: object fails without JSON
    turns:
      - user: no json here
        expect:
          object: {name: Alice}
  - name: every expectation of a turn is checked
    turns:
      - user: hello
        expect:
          contains: goodbye
          matches: "^bye"
          equals: bye
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    folder = tmp_path_factory.mktemp("expect")
    config = project(folder, {"kinds.eval.yaml": CASES})
    result = run_eval("-c", str(config), "--format", "json")
    assert result.code == 1, result.out + result.err
    return result


PASSING = [
    "contains a text",
    "contains every text of a list",
    "not_contains",
    "matches",
    "equals",
    "a tool call, input a subset",
    "in order allows other calls between",
    "exact",
    "any order",
    "no tool calls",
    "object",
]

FAILING = {
    "contains fails": ("contains", "expected the answer to contain 'goodbye'"),
    "not_contains fails": ("not_contains", "expected the answer not to contain 'there'"),
    "matches fails": ("matches", "expected the answer to match /^hello/"),
    "equals fails": ("equals", "expected the answer to be 'hi'"),
    "a tool call with the wrong input": (
        "tool_calls",
        'expected tool calls (in order): add({"a": 9}, ...); made: add({"a": 2, "b": 3})',
    ),
    "in order fails on the wrong order": ("tool_calls", "expected tool calls (in order): "),
    "exact fails on an extra call": (
        "tool_calls",
        'expected tool calls (exact): add(...); made: add({"a": 1, "b": 1}), '
        'launch({"target": "x"})',
    ),
    "any order needs a call per expected call": ("tool_calls", "(any order)"),
    "no tool calls fails": ("no_tool_calls", "expected no tool calls; the agent called add"),
    "object fails on a value": (
        "object",
        'the structured answer does not match: name is "Alice", expected "Bob"',
    ),
    "object fails on true for 1": ("object", "vip is 1, expected true"),
    "object fails without JSON": (
        "object",
        "expected a structured answer (a JSON object or array); the answer has none",
    ),
}


@pytest.mark.parametrize("name", PASSING)
def test_expectations_that_hold_pass(ran: Ran, name: str) -> None:
    case = ran.case(name)
    assert case["passed"], case["runs"][0]["turns"]


@pytest.mark.parametrize("name", sorted(FAILING))
def test_expectations_that_do_not_hold_fail_saying_why(ran: Ran, name: str) -> None:
    case = ran.case(name)
    assert not case["passed"]
    [turn] = case["runs"][0]["turns"]
    kind, text = FAILING[name]
    assert [f["expectation"] for f in turn["failures"]] == [kind]
    assert text in turn["failures"][0]["message"]
    assert turn["answer"]["text"].startswith("echo (")  # what came is in the report


def test_every_failed_expectation_of_a_turn_is_listed(ran: Ran) -> None:
    [turn] = ran.case("every expectation of a turn is checked")["runs"][0]["turns"]
    assert [f["expectation"] for f in turn["failures"]] == ["contains", "matches", "equals"]


def test_the_report_counts_cases(ran: Ran) -> None:
    report = ran.json()
    assert (report["passed"], report["failed"]) == (len(PASSING), len(FAILING) + 1)
    assert report["exit_code"] == 1


def test_a_failure_names_the_case_the_turn_and_what_came(tmp_path: Path) -> None:
    config = project(tmp_path, {"one.eval.yaml": CASES})
    result = run_eval("-c", str(config), "-k", "::contains fails")  # not "not_contains fails"
    assert result.code == 1
    path = tmp_path / "evals" / "one.eval.yaml"
    assert result.out.splitlines() == [
        f"FAILED {path}:11: contains fails",
        "  turn 1 (line 13): 'hello there'",
        "    expected the answer to contain 'goodbye'",
        "    answer: 'echo (2 messages): hello there'",
        "    tool calls: none",
        result.out.splitlines()[-1],
    ]
    assert result.out.splitlines()[-1].startswith("0 passed, 1 failed in ")


def test_tool_calls_in_a_failure_show_their_results(tmp_path: Path) -> None:
    config = project(tmp_path, {"one.eval.yaml": CASES})
    result = run_eval("-c", str(config), "-k", "wrong input")
    assert '    tool calls: add({"a": 2, "b": 3}) -> 5' in result.out.splitlines()


@pytest.mark.parametrize(
    ("expected", "actual", "problem"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, None),
        ({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 2, "d": 3}]}}, None),
        ({"a": 1}, {"b": 1}, "a is missing"),
        ({"a": [1, 2]}, {"a": [1]}, "a is [1], expected 2 items"),
        ({"a": [1, 2]}, {"a": [1, 3]}, "a[1] is 3, expected 2"),
        ({"a": True}, {"a": 1}, "a is 1, expected true"),
        ({"a": 1}, {"a": 1.0}, None),
        ({"a": {"b": 1}}, {"a": "x"}, 'a is "x", not a mapping'),
        ({"a": None}, {"a": None}, None),
        ([1], "text", 'the value is "text", expected 1 items'),
    ],
)
def test_subset_match(expected: object, actual: object, problem: str | None) -> None:
    assert subset_problem(expected, actual) == problem


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ('{"pass": true, "reason": "greets"}', (True, "greets")),
        ('Sure.\n```json\n{"pass": false, "reason": "rude"}\n```', (False, "rude")),
        ('{"score": 3} then {"pass": true}', (True, "")),
        ("PASS", (True, "")),
        ("pass: it greets the user", (True, "it greets the user")),
        ("**FAIL** - does not greet\nmore words", (False, "does not greet\nmore words")),
        ("FAILURE to comply", None),
        ("It looks fine to me.", None),
        ('{"pass": "yes"}', None),
        ("", None),
    ],
)
def test_verdict_parsing(answer: str, verdict: tuple[bool, str] | None) -> None:
    found = parse_verdict(answer)
    assert (None if found is None else (found.passed, found.reason)) == verdict


def test_a_structured_object_is_preferred_to_the_answer_text() -> None:
    """Once a turn returns its structured answer (``TurnResult.object``), ``object:`` checks
    that, not the first JSON in the text."""
    result = SimpleNamespace(output='{"name": "from the text"}', messages=(), object={"name": "A"})
    answer = answer_of(result)
    assert structured(answer) == (True, {"name": "A"})
    assert check(Expect(has_object=True, object={"name": "A"}), answer) == []
    plain = answer_of(SimpleNamespace(output='see {"name": "B"} here', messages=()))
    assert structured(plain) == (True, {"name": "B"})
