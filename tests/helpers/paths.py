"""Where things are: the repository and its tests/ folder, whichever group folder a test
file sits in."""

from __future__ import annotations

from pathlib import Path

#: tests/ (its helpers, node harnesses and MCP servers).
TESTS = Path(__file__).resolve().parents[1]
#: The repository's root (agents.yaml, examples/, docs/, vel_runner/).
REPO_ROOT = TESTS.parent
