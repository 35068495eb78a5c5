"""JSON as it leaves the server: strict, so every client's ``JSON.parse`` reads it.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default; JavaScript's ``JSON.parse`` (the
AI SDK reading an SSE frame), PostgreSQL's ``jsonb`` and most parsers refuse them, and
Starlette's ``JSONResponse`` raises on them (a 500). Here they become ``null``, as
``JSON.stringify`` makes them. The common case costs nothing extra: the payload is written
once with ``allow_nan=False``; only a payload that holds such a number is cleaned and written
again.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.responses import JSONResponse

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


class FiniteJSONResponse(JSONResponse):
    """Starlette's ``JSONResponse`` (same bytes), with NaN and infinities as ``null``
    instead of an exception."""

    def render(self, content: Any) -> bytes:
        return dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


__all__ = ["FiniteJSONResponse", "dumps", "finite"]
