"""Opening and closing what a snapshot holds: its stores, MCP servers, providers and agents.

The runtime calls these at start-up, at each reload (for what the new build created) and when
a retired snapshot's turns have drained. Closing never raises: a store or server that fails to
close is logged, and the rest still close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agent import Agent
    from .config.build import Built
    from .providers.base import Provider
    from .snapshot import Snapshot
    from .storage.base import SessionStore

log = logging.getLogger("vel_runner.runtime")  # the runtime's own log, as before the split


async def open_stores(stores: Iterable[SessionStore]) -> None:
    """Open ``stores`` (at start-up: a failure propagates as it is)."""
    for store in stores:
        await store.open()


async def open_new_stores(built: Built) -> None:
    """Open the stores a reload created; a failure is a config error at the store."""
    for store in built.new_stores.values():
        try:
            await store.open()
        except Exception as exc:
            raise built.store_error(store.name, exc) from exc


async def open_tool_sources(sources: Iterable[Any]) -> None:
    """Connect MCP servers (concurrently). A server that fails does not raise: it keeps
    being retried, ``/readyz`` names it (degraded), and the agents that use it keep working:
    their calls to it are error results the model reads."""
    await asyncio.gather(*(source.open() for source in sources))


async def discard(built: Built) -> None:
    """Close what an unused build created for itself (never the instances it reused)."""
    await close_all(
        built.new_agents,
        built.new_providers.values(),
        built.new_stores,
        built.new_tool_sources.values(),
    )


async def close_snapshot(snapshot: Snapshot, *, kept: Snapshot | None = None) -> None:
    """Close what ``snapshot`` holds, less the stores, providers and MCP servers that
    ``kept`` (the snapshot that replaced it) carried over; its agents all close."""
    stores, providers, sources = snapshot.stores, snapshot.providers, snapshot.tool_sources
    if kept is not None:
        parts = (*kept.stores.values(), *kept.providers.values(), *kept.tool_sources.values())
        kept_ids = {id(part) for part in parts}
        stores = {name: store for name, store in stores.items() if id(store) not in kept_ids}
        providers = {n: p for n, p in providers.items() if id(p) not in kept_ids}
        sources = {n: s for n, s in sources.items() if id(s) not in kept_ids}
    await close_all(snapshot.agents.values(), providers.values(), stores, sources.values())


async def close_all(
    agents: Iterable[Agent],
    providers: Iterable[Provider],
    stores: Mapping[str, SessionStore],
    tool_sources: Iterable[Any] = (),
) -> None:
    """Close agents, then MCP servers (all at once: each may wait seconds for a stubborn
    process), providers, stores; log (never raise) what fails."""
    for agent in agents:
        with _logged("agent", agent.id):
            await agent.aclose()
    await asyncio.gather(*(_close_source(source) for source in tool_sources))
    for provider in providers:
        with _logged("provider", getattr(provider, "type", "?")):
            await provider.aclose()
    for name, store in stores.items():
        with _logged("store", name):
            await store.close()


async def _close_source(source: Any) -> None:
    with _logged("MCP server", getattr(source, "name", "?")):
        await source.aclose()


@contextlib.contextmanager
def _logged(what: str, name: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        log.exception("closing %s %r failed", what, name)


__all__ = [
    "close_all",
    "close_snapshot",
    "discard",
    "open_new_stores",
    "open_stores",
    "open_tool_sources",
]
