"""``judge:`` expectations graded by an agent of the config: a scripted judge model on the
fake OpenAI server (the real openai SDK over loopback) answers each verdict form."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from helpers.evals import CONFIG, project, run_eval
from helpers.fake_openai import FakeOpenAI


def judge_config(fake: FakeOpenAI, model: str) -> str:
    return CONFIG.replace(
        "providers:\n",
        "providers:\n"
        f"  cloud: {{type: openai, api_key: unused-key, base_url: {fake.base_url!r}}}\n",
    ) + (f"  - id: grader\n    model: {{provider: cloud, model: {model}}}\n")


EVALS = """\
agent: helper
judge: grader
cases:
  - name: a JSON verdict that passes
    turns:
      - user: Hello, I am Alice
        expect:
          judge: The answer repeats the user's greeting.
  - name: a first-line FAIL with a reason
    turns:
      - user: My name is Alice
      - user: Please greet me by name
        expect:
          contains: greet
          judge: {agent: grader, rubric: The answer greets Alice by name.}
  - name: an answer that is no verdict
    turns:
      - user: hi
        expect:
          judge: The answer is polite.
"""


def test_a_scripted_judge_grades_each_rubric(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    model = f"judge-{uuid4().hex[:8]}"
    fake_openai.script(
        model,
        '{"pass": true, "reason": "it repeats the greeting"}',
        "FAIL: the answer never says Alice's name\nit only echoes",
        "Looks polite enough to me.",
    )
    config = project(tmp_path, {"judged.eval.yaml": EVALS}, judge_config(fake_openai, model))
    result = run_eval("-c", str(config), "-f", "json")  # -j 1: the script's order is the file's
    assert result.code == 1, result.out + result.err
    assert result.case("a JSON verdict that passes")["passed"]

    failed = result.case("a first-line FAIL with a reason")
    turns = failed["runs"][0]["turns"]
    assert turns[1]["failures"] == [
        {
            "expectation": "judge",
            "message": "the judge 'grader' failed the rubric 'The answer greets Alice by name.': "
            "the answer never says Alice's name\nit only echoes",
        }
    ]
    [turn] = result.case("an answer that is no verdict")["runs"][0]["turns"]
    assert turn["failures"][0]["message"] == (
        "the judge 'grader' did not answer a verdict (JSON with a boolean 'pass', or a first "
        "line PASS or FAIL): 'Looks polite enough to me.'"
    )

    judged = [r for r in fake_openai.requests if r["model"] == model]
    assert len(judged) == 3
    second = judged[1]["messages"][-1]["content"]  # the rubric, the whole run, the format
    assert "Rubric:\nThe answer greets Alice by name." in second
    assert "user: My name is Alice\nassistant: echo (2 messages): My name is Alice\n" in second
    assert "user: Please greet me by name\nassistant: echo (4 messages): Please greet" in second
    assert second.endswith('{"pass": true or false, "reason": "one sentence"}.')
    assert all(len(r["messages"]) == 1 for r in judged)  # no session: each grading alone


def test_the_judge_sees_the_tool_calls(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    model = f"judge-{uuid4().hex[:8]}"
    fake_openai.script(model, "PASS")
    evals = (
        "agent: helper\njudge: grader\ncases:\n  - name: adds\n    turns:\n"
        '      - user: \'/tool add {"a": 2, "b": 3}\'\n'
        "        expect: {judge: The assistant added with the tool.}\n"
    )
    config = project(tmp_path, {"tools.eval.yaml": evals}, judge_config(fake_openai, model))
    result = run_eval("-c", str(config))
    assert result.code == 0, result.out
    [request] = [r for r in fake_openai.requests if r["model"] == model]
    assert 'assistant called tool add({"a": 2, "b": 3}) -> 5' in request["messages"][0]["content"]


def test_a_judge_that_fails_to_answer_is_an_error_of_the_turn(tmp_path: Path) -> None:
    with FakeOpenAI() as fake:
        config = project(tmp_path, {"down.eval.yaml": EVALS}, judge_config(fake, "judge-down"))
    result = run_eval("-c", str(config), "-k", "passes", "-f", "json")  # the server is gone
    assert result.code == 1
    [turn] = result.case("a JSON verdict that passes")["runs"][0]["turns"]
    assert turn["error_kind"] == "provider"
    assert turn["error"].startswith("the judge 'grader' could not grade: could not connect to")


@pytest.mark.parametrize(
    ("evals", "message"),
    [
        (
            "agent: helper\ncases:\n  - name: x\n    turns:\n      - user: hi\n"
            "        expect: {judge: polite}\n",
            ":6:25: cases[0].turns[0].expect.judge: no agent grades this rubric",
        ),
        (
            "agent: helper\njudge: grader\ncases:\n  - name: x\n    turns:\n      - user: hi\n"
            "        expect: {judge: {agent: gradr, rubric: polite}}\n",
            ":7:33: cases[0].turns[0].expect.judge.agent: agent 'gradr' is not declared",
        ),
    ],
)
def test_a_judge_without_a_known_agent_is_a_file_error(
    tmp_path: Path, fake_openai: FakeOpenAI, evals: str, message: str
) -> None:
    config = project(tmp_path, {"bad.eval.yaml": evals}, judge_config(fake_openai, "j"))
    result = run_eval("-c", str(config))
    assert result.code == 2
    assert f"{tmp_path / 'evals' / 'bad.eval.yaml'}{message}" in result.out
