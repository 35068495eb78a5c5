"""``vel-runner eval`` with an agent whose tools come from a real MCP server (the SDK-written
tests/mcp_servers/demo_server.py over stdio): the calls reach the server for real (its
``tally`` tool counts them in a file), ``tool_calls`` checks them, a failing case shows the
server's real result, and ``stub_tools`` keeps a call away from the server."""

from __future__ import annotations

from pathlib import Path

from helpers.evals import project, run_eval
from helpers.mcp_servers import demo_config

CONFIG = demo_config("add, tally")

CASES = """\
agent: ops
cases:
  - name: tallies on the server
    turns:
      - user: '/tool d_tally {"path": "TALLY"}'
        expect:
          tool_calls: [{name: d_tally, input: {path: "TALLY"}}]
          contains: 'd_tally -> {"result": 1}'
  - name: adds on the server
    turns:
      - user: '/tool d_add {"a": 2, "b": 3}'
        expect:
          tool_calls: [{name: d_add, input: {a: 2}}]
          contains: 'd_add -> {"result": 5}'
  - name: a wrong sum fails
    turns:
      - user: '/tool d_add {"a": 2, "b": 3}'
        expect:
          contains: '{"result": 6}'
  - name: stubbed never reaches the server
    stub_tools: {d_tally: 99}
    turns:
      - user: '/tool d_tally {"path": "TALLY"}'
        expect:
          tool_calls: [{name: d_tally}]
          contains: "d_tally -> 99"
"""


def test_eval_cases_call_a_real_mcp_server(tmp_path: Path) -> None:
    """Three cases pass and one fails; the failure reports the server's real sum (5), and the
    server ran ``tally`` exactly once: the stubbed case never reached it."""
    tally = tmp_path / "tally.txt"
    config = project(tmp_path, {"mcp.eval.yaml": CASES.replace("TALLY", str(tally))}, CONFIG)
    result = run_eval("-c", str(config), "--format", "json")
    assert result.code == 1, result.out + result.err
    for name in ("tallies on the server", "adds on the server", "stubbed never reaches the server"):
        assert result.case(name)["passed"], result.case(name)["runs"][0]["turns"]
    assert tally.read_text().splitlines() == ["ran"]  # one real call: the stub ran nothing

    failed = result.case("a wrong sum fails")
    assert not failed["passed"]
    [turn] = failed["runs"][0]["turns"]
    assert [f["expectation"] for f in turn["failures"]] == ["contains"]
    [call] = turn["answer"]["tool_calls"]
    assert call == {"name": "d_add", "input": {"a": 2, "b": 3}, "output": '{"result": 5}'}
    assert (result.json()["passed"], result.json()["failed"]) == (3, 1)
