"""Run the node harness in tests/js_clients/ (the real ``ai``, ``@ai-sdk/openai`` and ``openai``
packages, pinned in its package-lock.json) against a server the test started."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HARNESS = Path(__file__).resolve().parent / "js_clients"


def node_harness() -> Path:
    """The harness directory, installed (``npm ci``) on first use; skip without node."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the JavaScript client tests")
    if not (HARNESS / "node_modules" / "ai").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(HARNESS)],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return HARNESS


async def run_node(script: str, *args: str, timeout: float = 60) -> Any:
    """Run ``node <script> <args>`` (without blocking the server's loop); its JSON output."""
    harness = node_harness()
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
