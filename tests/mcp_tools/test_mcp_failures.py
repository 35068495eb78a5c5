"""How an MCP server's failures read (vel_runner/tools/mcp_failures.py): the reason for a
failed connection and the error a failed request gives, never with a secret of the
declaration, and which failures mean the connection itself is gone."""

from __future__ import annotations

import pytest
from mcp import MCPError
from mcp_types import CONNECTION_CLOSED

from vel_runner.tools.base import ToolCallError
from vel_runner.tools.mcp_failures import (
    breaks_connection,
    call_failure,
    connect_failure,
    secrets_of,
    transport_of,
)

DECL = {
    "url": "https://user:hunter2@mcp.example/mcp",
    "headers": {"Authorization": "Bearer tok-123"},
}


def test_the_secrets_are_header_and_env_values_and_url_credentials() -> None:
    secrets = secrets_of({**DECL, "env": {"KEY": 42}})
    assert "Bearer tok-123" in secrets and "42" in secrets and "hunter2" in secrets
    assert transport_of(DECL) == "http" and transport_of({"command": "srv"}) == "stdio"


def test_a_failed_connection_reads_short_and_redacted() -> None:
    group = ExceptionGroup("g", [ConnectionError("refused by Bearer tok-123")])
    reason = connect_failure(group, "files", DECL, 30.0)
    assert reason == "ConnectionError: refused by *** (http https://user:***@mcp.example/mcp)"
    slow = connect_failure(TimeoutError(), "files", DECL, 2.5)
    assert slow == (
        "no answer within 2.5s (if the server is only slow to start, raise "
        "tools.files.connect_timeout)"
    )
    assert connect_failure(ToolCallError("as it was"), "files", DECL, 1) == "as it was"


@pytest.mark.parametrize(
    ("exc", "not_connected", "expected"),
    [
        (TimeoutError(), "refused", "MCP server 'f' was not connected within 3 s: refused"),
        (TimeoutError(), None, "MCP server 'f': tools/call x did not answer within 3 s"),
        (
            MCPError(CONNECTION_CLOSED, "closed"),
            None,
            "MCP server 'f' closed the connection during the call",
        ),
        (MCPError(-32602, "bad Bearer tok-123"), None, "MCP server 'f': bad ***"),
        (EOFError("gone"), None, "MCP server 'f' failed: EOFError: gone"),
    ],
)
def test_a_failed_request_reads_what_happened_to_the_call(
    exc: BaseException, not_connected: str | None, expected: str
) -> None:
    failure = call_failure(exc, "f", DECL, "tools/call x", 3.0, not_connected)
    assert isinstance(failure, ToolCallError)
    assert str(failure) == expected


def test_only_a_closed_connection_or_a_transport_error_breaks_the_connection() -> None:
    assert breaks_connection(MCPError(CONNECTION_CLOSED, "closed"))
    assert breaks_connection(EOFError()) and breaks_connection(BrokenPipeError())
    assert not breaks_connection(TimeoutError())  # slow is not gone
    assert not breaks_connection(MCPError(-32602, "invalid params"))
