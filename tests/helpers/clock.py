"""A clock for tests: passed as ``clock=`` to the stores, the runtime and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .waiting import wait_until

FROZEN = datetime(2026, 11, 25, 6, 40, tzinfo=UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = FROZEN) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def past(moment: datetime | None) -> None:
    """Return once the real clock (the stores' default, and PostgreSQL's on this machine) is
    past ``moment``: a TTL runs out on a condition, not on a guessed sleep."""
    assert moment is not None, "no expiry to wait for"
    await wait_until(lambda: datetime.now(UTC) > moment, what=f"the clock to pass {moment}")
