"""Cassettes: ``--record`` against a real OpenAI-compatible server (the fake one, through the
official SDK over loopback), then ``--replay`` with that server stopped; a cassette miss
that says what changed; secrets kept out; repeats replayed run by run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.evals import project, run_eval
from helpers.fake_openai import FakeOpenAI

from vel_runner.eval.cassette_diff import differences

CONFIG = """\
version: 1
providers:
  cloud:
    type: openai
    api_key: "${OPENAI_API_KEY:-unused}"
    base_url: "${FAKE_URL:-http://127.0.0.1:9/v1}"
    max_retries: 0
tools:
  add: {type: python, function: "helpers.eval_tools:add"}
  launch: {type: python, function: "helpers.eval_tools:launch"}
agents:
  - id: remote
    model: {provider: cloud, model: fake-1}
    instructions: You are terse.
    tools: [add]
  - id: grader
    model: {provider: cloud, model: judge-fixed}
  - id: window
    model: {provider: cloud, model: fake-1}
    context: {mode: summarize, max_history: 2}
"""

EVALS = """\
agent: remote
judge: grader
cases:
  - name: remembers
    turns:
      - user: My name is Alice
        expect: {contains: My name is Alice}
      - user: What is my name?
        expect: {contains: "(4 messages)"}
  - name: adds with the tool
    turns:
      - user: '/tool add {"a": 2, "b": 3}'
        expect:
          tool_calls: [{name: add, input: {a: 2, b: 3}}]
          contains: "add -> 5"
  - name: streamed, with a judge
    stream: true
    turns:
      - user: '/tool add {"a": 20, "b": 22}'
        expect:
          tool_calls: [{name: add}]
          contains: "add -> 42"
          judge: The answer reports the sum.
  - name: summarizes what leaves the window
    agent: window
    turns:
      - user: one
      - user: two
        expect: {contains: "fake reply to: two"}
"""

CASSETTE = Path("evals") / "cassettes" / "remote.jsonl"


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project recorded against a fake server that is stopped when the test body runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    project(tmp_path, {"remote.eval.yaml": EVALS}, CONFIG)
    with FakeOpenAI() as fake:
        fake.script("judge-fixed", '{"pass": true, "reason": "it says 42"}')
        monkeypatch.setenv("FAKE_URL", fake.base_url)
        result = run_eval("--record")
        assert result.code == 0, result.out + result.err
        assert result.out.splitlines()[-2] == f"wrote {len(fake.requests)} exchanges to {CASSETTE}"
    monkeypatch.delenv("FAKE_URL")  # the default points at a closed port
    return tmp_path


def exchanges(path: Path = CASSETTE) -> list[dict]:
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"cassette": 1, "eval_file": "remote.eval.yaml"}
    return [json.loads(line) for line in lines[1:]]


def test_record_then_replay_with_the_provider_down(recorded: Path) -> None:
    found = exchanges()
    assert [(e["case"], e["turn"], e["seq"]) for e in found] == [
        ("remembers", 1, 0),
        ("remembers", 2, 1),
        ("adds with the tool", 1, 0),
        ("adds with the tool", 1, 1),
        ("streamed, with a judge", 1, 0),
        ("streamed, with a judge", 1, 1),
        ("streamed, with a judge", 1, 2),  # the judge's request
        ("summarizes what leaves the window", 1, 0),
        ("summarizes what leaves the window", 2, 1),
        ("summarizes what leaves the window", 2, 2),  # the summary of what left the window
    ]
    assert "stream" in found[4]["response"] and "completion" in found[0]["response"]
    assert found[2]["request"]["settings"]["tools"][0]["function"]["name"] == "add"
    assert found[2]["response"]["completion"]["tool_calls"][0]["name"] == "add"

    live = run_eval()  # no cassette: the provider is down, so every case fails
    assert live.code == 1 and "could not connect to" in live.out

    before = CASSETTE.read_bytes()
    replayed = run_eval("--replay", "-f", "json")
    assert replayed.code == 0, replayed.out
    assert CASSETTE.read_bytes() == before  # a replay reads the cassette, never writes it
    report = replayed.json()
    assert (report["passed"], report["failed"], report["mode"]) == (4, 0, "replay")
    [turn] = replayed.case("adds with the tool")["runs"][0]["turns"]
    assert turn["answer"]["tool_calls"] == [
        {"name": "add", "input": {"a": 2, "b": 3}, "output": "5"}
    ]


def test_a_whole_answer_replays_streamed_and_a_stream_whole(recorded: Path) -> None:
    evals = recorded / "evals" / "remote.eval.yaml"
    swapped = EVALS.replace("  - name: remembers\n", "  - name: remembers\n    stream: true\n")
    evals.write_text(
        swapped.replace(
            '    stream: true\n    turns:\n      - user: \'/tool add {"a": 20',
            '    turns:\n      - user: \'/tool add {"a": 20',
        )
    )
    assert evals.read_text().count("stream: true") == 1
    result = run_eval("--replay")
    assert result.code == 0, result.out


def test_replay_parallel_runs_find_their_own_exchanges(recorded: Path) -> None:
    result = run_eval("--replay", "-j", "4")
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1].startswith("4 passed, 0 failed")


def test_an_edited_instruction_is_a_cassette_miss_that_says_so(recorded: Path) -> None:
    config = recorded / "agents.yaml"
    config.write_text(CONFIG.replace("You are terse.", "You are terse and kind."))
    result = run_eval("--replay", "-k", "remembers")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "ERROR evals/remote.eval.yaml:4: remembers"
    assert lines[1] == "  turn 1 (line 6): 'My name is Alice'"
    assert lines[2:6] == [
        "    cassette miss in evals/remote.eval.yaml, case 'remembers', turn 1: "
        f"{CASSETTE} has no answer to this request",
        "    what changed since the nearest recorded request (turn 1):",
        "    - the instructions were edited: 'You are terse.' -> 'You are terse and kind.'",
        "    record it again with: vel-runner eval --record evals/remote.eval.yaml",
    ]


def test_a_new_tool_and_a_changed_message_are_named(recorded: Path) -> None:
    (recorded / "agents.yaml").write_text(CONFIG.replace("tools: [add]", "tools: [add, launch]"))
    result = run_eval("--replay", "-k", "adds")
    assert "nearest recorded request (turn 1):\n    - tool 'launch' added\n    record" in result.out

    (recorded / "agents.yaml").write_text(CONFIG)
    evals = recorded / "evals" / "remote.eval.yaml"
    evals.write_text(EVALS.replace("What is my name?", "What's my name?"))
    result = run_eval("--replay", "-k", "remembers", "-f", "json")
    assert result.code == 1
    turns = result.case("remembers")["runs"][0]["turns"]
    assert turns[0]["passed"] and turns[1]["error_kind"] == "cassette-miss"
    assert turns[1]["error"].splitlines()[1:3] == [
        "what changed since the nearest recorded request (turn 2):",
        "- message 3 (user) differs: 'What is my name?' -> \"What's my name?\"",
    ]


def test_a_case_without_a_recording_and_a_missing_cassette(recorded: Path) -> None:
    evals = recorded / "evals" / "remote.eval.yaml"
    evals.write_text(EVALS + "  - name: brand new\n    turns:\n      - user: hello\n")
    result = run_eval("--replay", "-k", "brand new")
    assert "(the cassette has no exchange of this case)" in result.out
    CASSETTE.unlink()
    result = run_eval("--replay", "-k", "remembers")
    assert result.code == 1 and "(the cassette does not exist)" in result.out


def test_recording_some_cases_keeps_the_others(
    recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = exchanges()
    with FakeOpenAI() as fake:
        monkeypatch.setenv("FAKE_URL", fake.base_url)
        result = run_eval("--record", "-k", "remembers")
        assert result.code == 0, result.out
        assert len(fake.requests) == 2
    assert exchanges() == before  # the same requests, the same answers, the others kept
    evals = recorded / "evals" / "remote.eval.yaml"
    evals.write_text(EVALS.split("  - name: adds with the tool")[0])  # cases removed
    with FakeOpenAI() as fake:
        monkeypatch.setenv("FAKE_URL", fake.base_url)
        assert run_eval("--record", "-k", "remembers").code == 0
    assert {e["case"] for e in exchanges()} == {"remembers"}


def test_secrets_never_reach_the_cassette(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-evaltest-0123456789abcdef"
    token = "tok_9f8e7d6c5b4a"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("EVAL_GATEWAY_TOKEN", token)
    evals = (
        "agent: remote\ncases:\n  - name: leaks\n    turns:\n"
        f"      - user: 'my key is {key} and my token is {token}'\n"
        "        expect: {contains: my key is}\n"
    )
    with FakeOpenAI() as fake:
        url = fake.base_url.replace("http://", "http://gateway:${EVAL_GATEWAY_TOKEN}@")
        project(tmp_path, {"remote.eval.yaml": evals}, CONFIG.replace(
            '"${FAKE_URL:-http://127.0.0.1:9/v1}"', f'"{url}"'
        ))  # fmt: skip
        result = run_eval("--record")
        assert result.code == 0, result.out
        sent = fake.requests[0]["messages"][-1]["content"]
        assert key in sent and token in sent  # the model got the message as written
    text = CASSETTE.read_text()
    assert key not in text and token not in text and "0123456789abcdef" not in text
    assert "my key is *** and my token is ***" in text
    assert "gateway" not in text and "127.0.0.1" not in text  # no base_url, no credentials
    replayed = run_eval("--replay")  # the same secrets in the environment: the same keys
    assert replayed.code == 0, replayed.out


def test_repeats_replay_run_by_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    evals = (
        "agent: remote\ncases:\n  - name: varies\n    repeat: 3\n    pass_rate: 0.6\n"
        "    turns:\n      - user: yes or no?\n        expect: {contains: 'yes'}\n"
    )
    project(
        tmp_path, {"remote.eval.yaml": evals}, CONFIG.replace("model: fake-1", "model: coin", 1)
    )
    with FakeOpenAI() as fake:
        fake.script("coin", "yes", "no", "yes")
        monkeypatch.setenv("FAKE_URL", fake.base_url)
        recorded = run_eval("--record", "-f", "json")
    assert recorded.code == 0, recorded.out
    assert recorded.case("varies")["runs_passed"] == 2
    assert [e["response"]["completion"]["text"] for e in exchanges()] == ["yes", "no", "yes"]
    replayed = run_eval("--replay", "-f", "json", "-j", "3")
    assert [r["passed"] for r in replayed.case("varies")["runs"]] == [True, False, True]
    assert replayed.code == 0
    text = run_eval("--replay")
    assert "2/3 runs passed" not in text.out  # a passing case is not detailed
    assert text.out.startswith("1 passed, 0 failed")


def test_a_cassette_that_is_not_one_is_exit_2(recorded: Path) -> None:
    CASSETTE.write_text('{"cassette": 1, "eval_file": "remote.eval.yaml"}\nnot json\n')
    result = run_eval("--replay")
    assert result.code == 2
    assert result.err.startswith(f"vel-runner eval: {CASSETTE}:2: not a cassette line:")


def test_differences_name_each_change() -> None:
    old = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
        "settings": {
            "temperature": 0.2,
            "tools": [{"type": "function", "function": {"name": "a", "parameters": {}}}],
        },
    }
    new = {
        "model": "m2",
        "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "more"}],
        "settings": {
            "tools": [
                {"type": "function", "function": {"name": "a", "parameters": {"x": 1}}},
                {"type": "function", "function": {"name": "b", "parameters": {}}},
            ]
        },
    }
    assert differences(old, new) == [
        "the model changed: 'm' -> 'm2'",
        "instructions removed",
        "tool 'b' added",
        "tool 'a' changed (its parameters)",
        "setting 'temperature' changed: 0.2 -> '(unset)'",
        "the request has 2 messages, the recording 1",
    ]
    assert differences(old, old) == []
