"""The MCP servers of the suite: the SDK-written ones under tests/mcp_servers/ (one well
behaved, one misbehaving on purpose) and the pinned npm server-everything
(tests/js_mcp_servers), with the means to count the processes a test left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from .node import TESTS, node_harness

DEMO = str(TESTS / "mcp_servers" / "demo_server.py")
UNRULY = str(TESTS / "mcp_servers" / "unruly_server.py")
EVERYTHING = TESTS / "js_mcp_servers"


def everything_script() -> str:
    """The entry point of @modelcontextprotocol/server-everything (installed on first use)."""
    harness = node_harness(EVERYTHING)
    return str(harness / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist"
               / "index.js")  # fmt: skip


def wait_http(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until something answers HTTP on 127.0.0.1:``port`` (fail if ``proc`` exits first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the MCP server exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=0.5)
            return
        time.sleep(0.05)
    raise RuntimeError(f"no MCP server answered on port {port} within {timeout} s")


@contextlib.contextmanager
def http_server(
    port: int, command: Sequence[str] | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """An MCP server over streamable HTTP on 127.0.0.1:``port`` (the demo server unless
    ``command`` says otherwise), ready when it yields; killed after."""
    argv = list(command) if command is not None else [sys.executable, DEMO, "http", str(port)]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    try:
        wait_http(port, proc)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def processes_with(tag: str) -> list[int]:
    """The live processes whose command line contains ``tag`` (zombies have none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if tag.encode() in cmdline:
            found.append(int(entry.name))
    return found


def kill_tagged(tag: str) -> None:
    """SIGKILL what a failed test left behind (only processes it started: the tag is its own)."""
    for pid in processes_with(tag):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def demo_config(allow: str, *more_lines: str) -> str:
    """agents.yaml: one echo agent ``ops`` with the demo server over stdio (its tools
    ``allow``, prefixed ``d_``), ``more_lines`` added to the server's entry."""
    extra = "".join(f"    {line}\n" for line in more_lines)
    return f"""\
version: 1
providers:
  offline: {{type: echo}}
tools:
  demo:
    type: mcp
    command: {sys.executable}
    args: [{DEMO}, stdio]
    allow: [{allow}]
    prefix: d_
    connect_timeout: 30s
{extra}agents:
  - id: ops
    model: {{provider: offline, model: e}}
    tools: [demo]
"""
