"""How long ``vel-runner serve`` takes to stop on SIGTERM (issue 18, item 8), with no MCP
server, with one well-behaved stdio server (tests/mcp_servers/demo_server.py), and with one
that ignores SIGTERM and leaves a child (tests/mcp_servers/unruly_server.py). Each run starts a
fresh ``serve``, waits for ``/readyz``, sends SIGTERM and times the exit; the cases alternate
so drifting load hits all of them; medians. Also checks that no server process is left.

Run: python benchmarks/bench_shutdown.py [--runs N]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.mcp_servers import DEMO, UNRULY, processes_with  # noqa: E402
from helpers.net import free_port  # noqa: E402

HEAD = "version: 1\nproviders:\n  offline: {type: echo}\n"


def config(case: str, tag: str) -> str:
    """agents.yaml for one case; ``tag`` marks the MCP server's command line."""
    if case == "no MCP server":
        return HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: e}\n"
    if case == "one MCP server":
        args = f"['{DEMO}', stdio, {tag}]"
    else:
        args = f"['{UNRULY}', stdio, --ignore-term, --linger, --child, --tag, {tag}]"
    return (
        HEAD
        + f"tools:\n  s:\n    type: mcp\n    command: {sys.executable}\n    args: {args}\n"
        + "    allow: ['*']\n"
        + "agents:\n  - id: a\n    model: {provider: offline, model: e}\n    tools: [s]\n"
    )


def one_stop(case: str, directory: Path) -> tuple[float, int]:
    """Seconds from SIGTERM to exit, and the processes left behind."""
    tag = f"vel-bench-{uuid.uuid4().hex[:10]}"
    path = directory / f"{tag}.yaml"
    path.write_text(config(case, tag))
    port = free_port()
    argv = ["vel-runner", "serve", "--config", str(path), "--port", str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"serve did not get ready ({case})") from None
                time.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)  # what serve stopped is gone within its kill escalation
    return took, len(processes_with(tag))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="stops per case (default 5)")
    args = parser.parse_args()
    cases = ("no MCP server", "one MCP server", "one that ignores SIGTERM")
    times: dict[str, list[float]] = {case: [] for case in cases}
    left: dict[str, int] = dict.fromkeys(cases, 0)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            for case in cases:
                took, orphans = one_stop(case, Path(tmp))
                times[case].append(took)
                left[case] += orphans
    print(f"vel-runner serve, SIGTERM to exit, {args.runs} runs per case, medians (min-max)")
    for case in cases:
        samples = times[case]
        print(
            f"  {case:26} {statistics.median(samples):6.2f} s "
            f"({min(samples):.2f}-{max(samples):.2f})   processes left: {left[case]}"
        )


if __name__ == "__main__":
    main()
