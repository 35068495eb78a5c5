"""Durations and relative times as people type and read them (``30s``, ``15m``, ``2h``, ``7d``).

Standard library only (and ``vel_runner.durations``, itself stdlib-only): ``command.py``
uses it to parse ``--refresh`` before textual loads.
"""

from __future__ import annotations

from datetime import datetime


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (``1s``, ``500ms``, ``15m``, ``2h``, ``7d`` or plain seconds).

    The project's one duration grammar (the server parses ``older_than`` with it too);
    raises ``ValueError`` naming the bad value.
    """
    from ..durations import parse_duration as parse

    return parse(text)


def approx_duration(seconds: float) -> str:
    """The largest whole unit of ``seconds``: ``45s``, ``3m``, ``2h``, ``4d``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def ago(moment: datetime | None, now: datetime) -> str:
    """``12s ago``, ``3m ago``… for a past moment (``—`` when unknown)."""
    if moment is None:
        return "—"
    return f"{approx_duration((now - moment).total_seconds())} ago"


def until(moment: datetime | None, now: datetime) -> str:
    """``in 5m`` for a future moment, ``expired`` for a past one, ``never`` when unset."""
    if moment is None:
        return "never"
    left = (moment - now).total_seconds()
    return f"in {approx_duration(left)}" if left > 0 else "expired"


def timestamp(moment: datetime | None) -> str:
    """A compact UTC time for tables: ``2026-11-25 06:40:12``."""
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
