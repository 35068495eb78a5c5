"""JSON as it leaves vel-runner: strict, so every client's ``JSON.parse`` reads it.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default; JavaScript's ``JSON.parse`` (the
AI SDK reading an SSE frame), PostgreSQL's ``jsonb`` and most parsers refuse them. Here they
become ``null``, as ``JSON.stringify`` makes them. The common case costs nothing extra: the
payload is written once with ``allow_nan=False``; only a payload that holds such a number is
cleaned and written again. (Free of the web stack: the protocols' frames use it too.)
"""

from __future__ import annotations

import json
import math
from typing import Any

#: The start of the message ``json`` raises for NaN/Infinity under ``allow_nan=False``.
_NON_FINITE = "Out of range float values"


def finite(value: Any) -> Any:
    """``value`` with every NaN and infinity (in dicts, lists and tuples) replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)``, with NaN and infinities written as ``null``."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError as exc:
        if not str(exc).startswith(_NON_FINITE):
            raise
        return json.dumps(finite(value), allow_nan=False, **options)


def compact_encoder() -> Any:
    """A ``str``-returning encoder of compact strict JSON (``,``/``:``, no spaces): one
    encoder object for every frame, rather than one per ``json.dumps`` call."""
    encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode

    def compact(value: Any) -> str:
        try:
            return encode(value)
        except ValueError as exc:
            if not str(exc).startswith(_NON_FINITE):
                raise
            return encode(finite(value))

    return compact


__all__ = ["compact_encoder", "dumps", "finite"]
