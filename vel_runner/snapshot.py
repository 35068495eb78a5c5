"""The :class:`Snapshot`: one consistent, frozen config of agents, stores and providers.

A leaf module so that both the builder (config/build.py) and the runtime that swaps
snapshots can name the type without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent import Agent
    from .providers.base import Provider
    from .storage.base import SessionStore


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent config: its agents, stores and providers. Never mutated."""

    agents: Mapping[str, Agent]
    stores: Mapping[str, SessionStore]
    version: str
    loaded_at: datetime
    files: list[str]
    providers: Mapping[str, Provider] = field(default_factory=lambda: MappingProxyType({}))
    #: Resolved declarations by ("providers" | "stores", name), to reuse unchanged instances.
    declarations: Mapping[tuple[str, str], Any] = field(
        default_factory=lambda: MappingProxyType({}), repr=False
    )
    #: MCP servers by name (one connection each, shared by the agents that use them).
    tool_sources: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
