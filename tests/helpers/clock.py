"""A clock for tests: passed as ``clock=`` to the stores, the runtime and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FROZEN = datetime(2026, 11, 25, 6, 40, tzinfo=UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = FROZEN) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
