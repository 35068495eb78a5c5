"""Durations as people write them: ``30s``, ``15m``, ``1h``, ``7d``, ``250ms`` or plain seconds.

One parser shared by agents.yaml (TTLs), the server (``older_than``) and the dashboard, so
the same text means the same time everywhere. The pattern is also the one the JSON Schema
uses for duration strings (:data:`DURATION_PATTERN`).
"""

from __future__ import annotations

import math
import re

from .errors import InvalidInputError

#: Seconds per unit suffix.
UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}

#: The oldest age cleanup and listings take: nothing is older, and datetime arithmetic
#: overflows far beyond (ages are clamped to it).
MAX_AGE_SECONDS = 100 * 365 * 86400.0

#: Anchored regex for a duration string; schema/agents.schema.json uses the same text.
DURATION_PATTERN = r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d|w)?\s*$"
_DURATION = re.compile(DURATION_PATTERN)


def parse_duration(value: str | int | float) -> float:
    """``value`` in seconds: a non-negative number, or a string such as ``"15m"``.

    Raises :class:`~vel_runner.errors.InvalidInputError` naming the bad value.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"invalid duration {value!r}: expected e.g. 30s, 15m, 1h, 7d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise InvalidInputError(
                f"invalid duration {value!r:.80}: expected a number of seconds or a number "
                "with a unit (ms, s, m, h, d, w), e.g. 30s, 15m, 1h, 7d"
            )
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    else:
        raise InvalidInputError(
            f"invalid duration {value!r:.80}: expected a number or a string such as '1h'"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInputError(f"invalid duration {value!r}: must be a finite number >= 0")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact form of ``seconds`` (``3600`` -> ``"1h"``), for listings."""
    for unit in ("w", "d", "h", "m", "s"):
        size = UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


__all__ = ["DURATION_PATTERN", "MAX_AGE_SECONDS", "UNITS", "format_duration", "parse_duration"]
