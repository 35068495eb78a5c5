"""The one clock: timezone-aware UTC "now".

Whatever stamps a time the user sees (stores, the runtime, config errors, the dashboard) takes
a ``clock`` argument defaulting to :func:`utc_now`, so tests pass a frozen clock instead of
patching module attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: A function returning the current time (timezone-aware).
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


__all__ = ["Clock", "utc_now"]
