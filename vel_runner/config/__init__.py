"""agents.yaml: loading with positions, env interpolation, the schema, semantic checks, build
and hot reload.

This package's ``__init__`` imports nothing heavy (``vel-runner validate`` and ``schema``
import it first); names are loaded on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfigError, ConfigIssue

_LAZY = {
    "Config": "validate",
    "check_config": "validate",
    "load_config": "validate",
    "load_schema": "schema",
    "ConfigWatcher": "reload",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConfigWatcher",
    "check_config",
    "load_config",
    "load_schema",
]
