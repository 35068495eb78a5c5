"""Patterns that check a name or an id must match all of it: with Python's ``re.match`` and
``^...$``, ``$`` also matches before a final newline, so ``"trail\\n"`` passed
``^[A-Za-z0-9_-]{1,64}$``. The config's own names are covered in test_config_validate.py;
here the names that reach the runner at run time: an MCP server's tool names (a real SDK
server over stdio), session and conversation ids in request bodies (a real uvicorn), request
ids and the paths in error messages."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from helpers.paths import TESTS
from helpers.server import echo_agent, served_agents

from vel_runner.errors import InvalidInputError
from vel_runner.messages import check_json
from vel_runner.observe.logs import accepted_request_id
from vel_runner.runtime import Runtime

ODD_SERVER = TESTS / "mcp_servers" / "odd_names_server.py"
RULE = "characters from A-Z a-z 0-9"


async def test_an_mcp_tool_name_ending_in_a_newline_is_not_offered(tmp_path: Path) -> None:
    config = tmp_path / "agents.yaml"
    config.write_text(
        "version: 1\nproviders:\n  offline: {type: echo}\ntools:\n"
        f"  odd:\n    type: mcp\n    command: {sys.executable}\n    args: [{ODD_SERVER}]\n"
        "    allow: ['*']\n    connect_timeout: 30s\n"
        "agents:\n  - id: a\n    model: {provider: offline, model: e}\n    tools: [odd]\n"
    )
    runtime = await Runtime.from_paths([config], watch=False, close_grace=0.0)
    async with runtime:
        assert runtime.agent("a").toolbox.names == ["fine"]


async def test_session_and_conversation_ids_with_a_trailing_newline_name_the_rule() -> None:
    """Refused by the id check itself, with the rule, not later by the store's generic check."""
    async with served_agents(echo_agent("echo")) as base, httpx.AsyncClient(base_url=base) as http:
        chat = await http.post(
            "/v1/chat/completions",
            json={"model": "echo", "messages": [{"role": "user", "content": "hi"}],
                  "user": "abc\n"},
        )  # fmt: skip
        assert chat.status_code == 422
        message = chat.json()["error"]["message"]
        assert message.startswith("session id 'abc\\n' is invalid") and RULE in message
        responses = await http.post(
            "/v1/responses", json={"model": "echo", "input": "hi", "conversation": "abc\n"}
        )
        assert responses.status_code == 400
        error = responses.json()["error"]
        assert error["param"] == "conversation" and RULE in error["message"]
        path = await http.get("/v1/agents/echo/sessions/abc%0A")
        assert path.status_code == 422  # the path parameter's pattern (pydantic's, full match)


def test_a_request_id_ending_in_a_newline_is_not_echoed() -> None:
    assert accepted_request_id("req-1") == "req-1"
    assert accepted_request_id("req-1\n") is None


def test_a_key_ending_in_a_newline_is_quoted_in_error_paths() -> None:
    try:
        check_json({"ok": {"a\n": float("nan")}}, "metadata")
    except InvalidInputError as exc:
        assert str(exc).startswith("metadata.ok['a\\n'] is nan")
    else:
        raise AssertionError("NaN passed check_json")
