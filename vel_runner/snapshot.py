"""The :class:`Snapshot`: one consistent, frozen config of agents, stores and providers.

A leaf module so that both the builder (config/build.py) and the runtime that swaps
snapshots can name the type without importing each other. :func:`snapshot_of_agents` makes
one from ready-made agents (library use, tests), with no file behind it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import InvalidInputError

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


def snapshot_of_agents(agents: Iterable[Agent], loaded_at: datetime) -> Snapshot:
    """A snapshot of ready-made agents: their stores and providers by name, a version that
    changes with their ids, providers, models and context modes. Two agents with one id are
    refused."""
    by_id: dict[str, Agent] = {}
    stores: dict[str, SessionStore] = {}
    providers: dict[str, Provider] = {}
    for agent in agents:
        if agent.id in by_id:
            raise InvalidInputError(f"two agents have the id {agent.id!r}")
        by_id[agent.id] = agent
        _add_unique(stores, agent.store.name, agent.store, agent.id)
        _add_unique(providers, agent.provider_name, agent.provider, agent.id)
    fingerprint = repr(
        sorted((a.id, a.provider_name, a.model_name, a.context_mode) for a in by_id.values())
    )
    return Snapshot(
        agents=MappingProxyType(by_id),
        stores=MappingProxyType(stores),
        version=hashlib.sha256(fingerprint.encode()).hexdigest()[:12],
        loaded_at=loaded_at,
        files=[],
        providers=MappingProxyType(providers),
    )


def _add_unique(target: dict[str, Any], name: str, value: Any, agent_id: str) -> None:
    """Key ``value`` by ``name``; a different instance under a taken name gets ``name@agent``."""
    existing = target.get(name)
    if existing is None or existing is value:
        target[name] = value
    else:
        target[f"{name}@{agent_id}"] = value
