"""The pinned node harnesses of the suite: tests/js (the ``ai`` packages' chunk schemas) and
tests/js_clients (the real ``ai``, ``@ai-sdk/openai`` and ``openai`` clients).

Each installs itself (``npm ci`` from its package-lock.json) on first use, so the README's
test command runs them too. Without node and npm they skip, except under CI, where a skip
would hide a part that exists: there they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
SCHEMAS = TESTS / "js"
CLIENTS = TESTS / "js_clients"


def node_harness(harness: Path = CLIENTS) -> Path:
    """``harness``, installed with ``npm ci`` when its node_modules is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        message = "node and npm are needed for the JavaScript tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if not (harness / "node_modules").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(harness)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return harness


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
