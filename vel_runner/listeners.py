"""Fan-out of events to callbacks: the one piece the stores and the runtime share.

A broken listener is logged and skipped, never allowed to break the turn or the reload that
produced the event.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

E = TypeVar("E")

log = logging.getLogger(__name__)


class Listeners(Generic[E]):
    """A list of callbacks; :meth:`add` returns the function that removes the one added."""

    __slots__ = ("_callbacks", "any")

    def __init__(self) -> None:
        self._callbacks: list[Callable[[E], None]] = []
        #: Is anyone listening? (An attribute, so the hot paths that emit pay no call.)
        self.any = False

    def __bool__(self) -> bool:
        return self.any

    def __len__(self) -> int:
        return len(self._callbacks)

    def add(self, callback: Callable[[E], None]) -> Callable[[], None]:
        self._callbacks.append(callback)
        self.any = True

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)
            self.any = bool(self._callbacks)

        return remove

    def emit(self, event: E) -> None:
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("listener %r failed", callback)
