"""How loudly an MCP connection's ups and downs are logged. A server that stays down used to
log a WARNING at every reconnect attempt (every <= 10 s, forever): now an incident logs one
WARNING when it starts (and when its reason changes), DEBUG while it goes on, and a reminder
every :data:`REMIND_EVERY`. A server that keeps dropping right after it connects is one
incident too (flapping), so its reconnects are DEBUG and its backoff keeps growing."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("vel_runner.tools.mcp")

#: While a server stays down (or keeps dropping), its WARNING repeats at most this often.
REMIND_EVERY = 600.0
#: A connection that lasted this long before it broke ends an incident: the next failure
#: warns again and the backoff starts over.
STABLE_AFTER = 10.0


class Incidents:
    """The log of one server's connection."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._warned_at: float | None = None
        self._warned_reason: str | None = None
        self._up_since: float | None = None
        self._last_lasted: float | None = None

    def up(self, attempt: int) -> bool:
        """Connected (INFO, or DEBUG while flapping); ``True`` when flapping: the last
        connection broke soon after it was made."""
        flapping = self._last_lasted is not None and self._last_lasted < STABLE_AFTER
        self._up_since = time.monotonic()
        level = logging.DEBUG if flapping else logging.INFO
        log.log(level, "MCP server %r connected (attempt %d)", self.name, attempt)
        return flapping

    def ended(self) -> None:
        """The connection ended: one that lasted ends the incident (the next failure warns)."""
        if self._up_since is None:
            return
        self._last_lasted = time.monotonic() - self._up_since
        if self._last_lasted >= STABLE_AFTER:
            self._warned_at = None
        self._up_since = None

    def failure(self, message: str, reason: str, attempt: int) -> None:
        """A failed attempt or a lost connection: WARNING when an incident starts or its
        reason changes, then at most every :data:`REMIND_EVERY`; DEBUG in between."""
        now = time.monotonic()
        warned_at = self._warned_at
        repeat = warned_at is not None and reason == self._warned_reason
        if repeat and warned_at is not None and now - warned_at < REMIND_EVERY:
            log.debug("%s (attempt %d)", message, attempt)
            return
        if repeat:
            message = f"{message}; still failing after {attempt} attempts"
        log.warning("%s", message)
        self._warned_at, self._warned_reason = now, reason


__all__ = ["REMIND_EVERY", "STABLE_AFTER", "Incidents"]
