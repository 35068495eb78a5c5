"""The pinned node harnesses of the suite: tests/js (the ``ai`` packages' chunk schemas) and
tests/js_clients (the real ``ai``, ``@ai-sdk/openai`` and ``openai`` clients).

Each installs itself (``npm ci`` from its package-lock.json) on first use, so the README's
test command runs them too; a file lock keeps two test workers from installing one at once.
Without node and npm they skip, except under CI, where a skip would hide a part that exists:
there they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .paths import TESTS

SCHEMAS = TESTS / "js"
CLIENTS = TESTS / "js_clients"


def node_harness(harness: Path = CLIENTS) -> Path:
    """``harness``, installed with ``npm ci`` when its node_modules is missing."""
    require_node()
    if not installed(harness):
        with install_lock(harness):
            if not installed(harness):  # another worker may have installed it meanwhile
                subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(harness)],
                    check=True,
                    capture_output=True,
                    timeout=600,
                )
    return harness


def require_node() -> None:
    """Skip the test without node and npm (fail it under CI, where they are installed)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = "node and npm are needed for the JavaScript tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def installed(harness: Path) -> bool:
    """Whether an ``npm ci`` of ``harness`` finished: npm writes node_modules/.package-lock.json
    last, so a half-done install (interrupted, or running in another process) is not taken."""
    return (harness / "node_modules" / ".package-lock.json").is_file()


@contextlib.contextmanager
def install_lock(harness: Path) -> Iterator[None]:
    """One ``npm ci`` of ``harness`` at a time across processes (pytest-xdist workers, two
    runs in one tree): ``npm ci`` first deletes node_modules, so a second one would pull the
    packages out from under the first and the tests using them."""
    with (harness / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


async def run_node(script: str, *args: str, timeout: float = 60, harness: Path = CLIENTS) -> Any:
    """Run ``node <script> <args>`` of ``harness`` (tests/js_clients by default) without
    blocking the server's loop; its JSON output."""
    harness = node_harness(harness)
    process = await asyncio.create_subprocess_exec(
        "node",
        str(harness / script),
        *args,
        cwd=harness,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, f"node {script} {args} failed:\n{err.decode()[-3000:]}"
    return json.loads(out)
