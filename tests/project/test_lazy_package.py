"""``vel_runner`` and ``vel_runner.tools`` import their public names on first use (PEP 562):
importing the package costs nothing, and every documented name still works, star import
included."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers.paths import REPO_ROOT

import vel_runner
import vel_runner.tools

ROOT = REPO_ROOT


def test_importing_the_package_loads_no_engine_module() -> None:
    code = (
        "import sys, vel_runner, vel_runner.tools\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('vel_runner.') "
        "or m in ('asyncio', 'pydantic'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "['vel_runner.lazy', 'vel_runner.tools']"


@pytest.mark.parametrize("package", [vel_runner, vel_runner.tools])
def test_every_public_name_resolves_and_is_listed(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    for name in names:
        assert getattr(package, name) is not None, name
    assert set(names) <= set(dir(package))
    namespace: dict[str, object] = {}
    exec(f"from {package.__name__} import *", namespace)  # type: ignore[attr-defined]
    assert set(names) <= set(namespace)


def test_the_names_are_the_modules_own_and_unknown_names_fail() -> None:
    from vel_runner.agent import Agent
    from vel_runner.tools.python import FunctionTool

    assert vel_runner.Agent is Agent and vel_runner.tools.FunctionTool is FunctionTool
    with pytest.raises(AttributeError, match="has no attribute 'Agnet'"):
        _ = vel_runner.Agnet  # type: ignore[attr-defined]
