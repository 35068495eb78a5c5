"""The runtime: the live snapshot of agents and stores that the server and the CLI serve from.

A :class:`Snapshot` is frozen; a reload builds a whole new one and swaps it in with one
assignment, so a turn that already holds an agent finishes on the snapshot it started with.
Stores and providers whose declaration did not change are carried over as the same instances,
so sessions (and open connection pools) survive a reload; those no longer referenced are
closed once the old snapshot's turns have drained. An invalid (or deleted) file changes
nothing: the old snapshot keeps serving and :attr:`Runtime.last_error` says why. The turns
holding each snapshot are counted by :mod:`.leases`; :mod:`.snapshot_lifecycle` opens and
closes what a snapshot holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from .clock import Clock, utc_now
from .config.build import Built, ProviderWrapper, build_snapshot
from .config.errors import ConfigError, ConfigIssue, ReloadError
from .errors import UnknownAgentError
from .leases import SnapshotLeases
from .listeners import Listeners
from .providers import preload
from .snapshot import Snapshot, snapshot_of_agents
from .snapshot_lifecycle import (
    close_snapshot,
    discard,
    open_new_stores,
    open_stores,
    open_tool_sources,
)
from .storage.base import SessionEvent

if TYPE_CHECKING:
    from .agent import Agent
    from .config.reload import ConfigWatcher

log = logging.getLogger(__name__)

#: Default watcher debounce: watchfiles' own default (1.6 s) is far above our latency goal.
DEFAULT_DEBOUNCE_MS = 50
#: How long a retired snapshot waits for its leased turns before its stores are closed anyway.
DRAIN_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class ConfigEvent:
    """A config change: ``reloaded`` (with the new version) or ``reload-failed`` (with why)."""

    kind: Literal["reloaded", "reload-failed"]
    version: str | None = None
    error: ReloadError | None = None
    at: datetime = field(default_factory=utc_now)


RuntimeEvent = SessionEvent | ConfigEvent
RuntimeListener = Callable[[RuntimeEvent], None]


class Runtime:
    """Holds the current :class:`Snapshot`; reloads it from files when they change."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        paths: Sequence[Path] = (),
        watch: bool = False,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        close_grace: float = 5.0,
        clock: Clock = utc_now,
        wrap_provider: ProviderWrapper | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.clock = clock
        self.last_error: ReloadError | None = None
        self._paths = list(paths)
        self._watch = watch and bool(self._paths)
        self._debounce_ms = debounce_ms
        self._close_grace = close_grace
        self._wrap_provider = wrap_provider
        self._listeners: Listeners[RuntimeEvent] = Listeners()
        self._unsubscribe: list[Callable[[], None]] = []
        self._leases = SnapshotLeases()
        self._retiring: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()
        self._watcher: ConfigWatcher | None = None
        self._started = False
        self._closed = False
        self._subscribe(snapshot)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_agents(cls, agents: Iterable[Agent], *, clock: Clock = utc_now) -> Runtime:
        """A runtime over ready-made agents (library use, tests): no files, no watcher."""
        return cls(snapshot_of_agents(agents, clock()), clock=clock)

    @classmethod
    async def from_paths(
        cls,
        paths: Sequence[str | Path],
        *,
        watch: bool = True,
        debounce_ms: int = DEFAULT_DEBOUNCE_MS,
        close_grace: float = 5.0,
        clock: Clock = utc_now,
        wrap_provider: ProviderWrapper | None = None,
    ) -> Runtime:
        """Load agents.yaml (several files or directories are merged).

        Raises :class:`~vel_runner.config.errors.ConfigError` if the config is invalid. Call
        :meth:`start` (or use ``async with``) to open the stores and start watching.
        ``wrap_provider(name, provider)`` replaces each provider built (at load and at every
        reload) by what it returns: a cassette, a cache, a fake.
        """
        resolved = [Path(p) for p in paths] or [Path("agents.yaml")]
        built = await build_snapshot(
            resolved, previous=None, clock=clock, wrap_provider=wrap_provider
        )
        return cls(
            built.snapshot,
            paths=resolved,
            watch=watch,
            debounce_ms=debounce_ms,
            close_grace=close_grace,
            clock=clock,
            wrap_provider=wrap_provider,
        )

    # -- lookups ---------------------------------------------------------------------------
    def agent(self, agent_id: str) -> Agent:
        """The agent ``agent_id`` of the current snapshot."""
        try:
            return self.snapshot.agents[agent_id]
        except KeyError:
            known = ", ".join(sorted(self.snapshot.agents)) or "none"
            raise UnknownAgentError(f"no agent {agent_id!r} is loaded (agents: {known})") from None

    @contextlib.asynccontextmanager
    async def lease(self, agent_id: str) -> AsyncIterator[Agent]:
        """Hold the current snapshot for one turn: its stores and providers stay open until
        the block ends, even if a reload retires them meanwhile."""
        agent, release = self.hold(agent_id)
        try:
            yield agent
        finally:
            release()

    def hold(self, agent_id: str) -> tuple[Agent, Callable[[], None]]:
        """:meth:`lease` without the context manager (a server's every turn takes one): the
        agent, and the function that lets its snapshot go (call it exactly once)."""
        snapshot = self.snapshot
        agent = self.agent(agent_id)
        return agent, self._leases.take(snapshot)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the stores and start the file watcher (when watching). Idempotent."""
        if self._started:
            return
        self._started = True
        await open_stores(self.snapshot.stores.values())
        await open_tool_sources(self.snapshot.tool_sources.values())
        await preload(self.snapshot.providers.values())
        if self._watch:
            from .config.reload import ConfigWatcher

            self._watcher = ConfigWatcher(self._paths, self.reload, debounce_ms=self._debounce_ms)
            await self._watcher.start()

    async def close(self) -> None:
        """Stop the watcher and close every store, provider and agent. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            await self._watcher.stop()
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await close_snapshot(self.snapshot)

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- reload ----------------------------------------------------------------------------
    async def reload(self) -> bool:
        """Re-read the files now. ``False`` (and :attr:`last_error` set) if they are invalid."""
        if not self._paths or self._closed:
            return True
        async with self._reload_lock:
            old = self.snapshot
            built: Built | None = None
            try:
                built = await build_snapshot(
                    self._paths, previous=old, clock=self.clock, wrap_provider=self._wrap_provider
                )
                if self._started and built.snapshot.version != old.version:
                    await open_new_stores(built)
                    await open_tool_sources(built.new_tool_sources.values())
                    await preload(built.new_providers.values())
            except Exception as exc:
                if built is not None:
                    await discard(built)
                return self._failed(exc)
            if built.snapshot.version == old.version:
                await discard(built)  # same config: keep the running snapshot as it is
                if self.last_error is not None:
                    self.last_error = None
                    self._emit(ConfigEvent("reloaded", version=old.version, at=self.clock()))
                return True
            self._swap(old, built.snapshot)
            self.last_error = None
            log.info("config reloaded: version %s", built.snapshot.version)
            self._emit(ConfigEvent("reloaded", version=built.snapshot.version, at=self.clock()))
            return True

    def _failed(self, exc: Exception) -> bool:
        if not isinstance(exc, ConfigError):  # a bug, not bad input: keep the traceback
            log.error("config reload crashed", exc_info=exc)
            exc = ConfigError([_unexpected_issue(self._paths, exc)])
        error = ReloadError.from_config_error(exc, at=self.clock())
        self.last_error = error
        log.warning("config reload failed, the previous config keeps serving: %s", exc)
        self._emit(ConfigEvent("reload-failed", error=error, at=error.at))
        return False

    def _swap(self, old: Snapshot, new: Snapshot) -> None:
        """Swap in one step (no await in between), then retire what ``new`` no longer uses."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self.snapshot = new
        self._subscribe(new)
        task = asyncio.get_running_loop().create_task(self._retire(old, new))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, old: Snapshot, new: Snapshot) -> None:
        """Close what only ``old`` used, once its leased turns finish (bounded wait)."""
        try:
            await asyncio.sleep(self._close_grace)
            await self._leases.drained(old, DRAIN_TIMEOUT)
        finally:
            await close_snapshot(old, kept=new)

    # -- events ----------------------------------------------------------------------------
    def add_listener(self, callback: RuntimeListener) -> Callable[[], None]:
        """Call ``callback`` on every session change (from every store of the current
        snapshot) and every config change; returns a function that removes it."""
        return self._listeners.add(callback)

    def _subscribe(self, snapshot: Snapshot) -> None:
        seen: set[int] = set()
        for store in snapshot.stores.values():
            if id(store) not in seen:
                seen.add(id(store))
                self._unsubscribe.append(store.add_listener(self._emit))

    def _emit(self, event: RuntimeEvent) -> None:
        self._listeners.emit(event)


# -- helpers ---------------------------------------------------------------------------------------
def _unexpected_issue(paths: Sequence[Path], exc: Exception) -> ConfigIssue:
    return ConfigIssue(
        str(paths[0]), 1, 1, "<root>", f"reload failed: {type(exc).__name__}", code="internal"
    )


__all__ = [
    "DEFAULT_DEBOUNCE_MS",
    "ConfigEvent",
    "ReloadError",
    "Runtime",
    "RuntimeEvent",
    "RuntimeListener",
    "Snapshot",
]
