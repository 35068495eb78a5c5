"""Watch the config files and call back when they change (hot reload).

watchfiles watches the *directories* holding the files, not the files themselves: editors
save atomically (write a temporary file, rename it over the original), which replaces the
inode a file watch would be attached to. Changes are filtered to the config files (and, for
a directory given as config, its ``*.yaml``/``*.yml``). watchfiles' default debounce (1.6 s)
is far too slow for "save and it is live"; we group changes over ``debounce_ms`` and poll
the Rust watcher every ``step_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from .files import CONFIG_SUFFIXES

log = logging.getLogger(__name__)


class ConfigWatcher:
    """Calls ``on_change()`` after each burst of changes to the config files."""

    def __init__(
        self,
        paths: Sequence[Path],
        on_change: Callable[[], Awaitable[Any]],
        *,
        debounce_ms: int = 50,
        step_ms: int = 10,
        force_polling: bool | None = None,
    ) -> None:
        self._files = {Path(p).absolute() for p in paths if not Path(p).is_dir()}
        self._dirs = {Path(p).absolute() for p in paths if Path(p).is_dir()}
        self._watched = sorted({f.parent for f in self._files} | self._dirs)
        self._on_change = on_change
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._force_polling = force_polling
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def relevant(self, path: str) -> bool:
        """Is ``path`` one of the config files (or a config file in a config directory)?"""
        changed = Path(path).absolute()
        if changed in self._files:
            return True
        return changed.parent in self._dirs and changed.suffix in CONFIG_SUFFIXES

    def _filter(self, _change: Any, path: str) -> bool:
        return self.relevant(path)

    async def start(self) -> None:
        """Start watching (returns once the watcher task runs)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="config-watcher")
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        from watchfiles import awatch

        missing = [str(d) for d in self._watched if not d.is_dir()]
        if missing:
            log.warning("not watching %s: no such directory", ", ".join(missing))
        watched = [str(d) for d in self._watched if d.is_dir()]
        if not watched:
            return
        async for changes in awatch(
            *watched,
            watch_filter=self._filter,
            debounce=self._debounce_ms,
            step=self._step_ms,
            stop_event=self._stop,
            recursive=False,
            force_polling=self._force_polling,
            yield_on_timeout=False,
        ):
            log.debug("config files changed: %s", sorted(path for _, path in changes))
            try:
                await self._on_change()
            except Exception:  # the watcher must outlive any single reload
                log.exception("config reload after a change failed")


__all__ = ["ConfigWatcher"]
