"""agents.yaml: loading with positions, env interpolation, the schema, semantic checks, build
and hot reload.

This package's ``__init__`` imports nothing heavy (``vel-runner validate`` and ``schema``
import it first); names are loaded on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from .model import Config
    from .reload import ConfigWatcher
    from .schema import load_schema
    from .validate import check_config, load_config

_LAZY = {
    "Config": "model",
    "check_config": "validate",
    "load_config": "validate",
    "load_schema": "schema",
    "ConfigWatcher": "reload",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = [
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConfigWatcher",
    "check_config",
    "load_config",
    "load_schema",
]
