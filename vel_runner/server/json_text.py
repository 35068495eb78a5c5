"""JSON responses as they leave the server: strict (:mod:`vel_runner.strict_json`), so every
client's ``JSON.parse`` reads them; Starlette's ``JSONResponse`` would raise on NaN (a 500).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ..strict_json import dumps, finite


class FiniteJSONResponse(JSONResponse):
    """Starlette's ``JSONResponse`` (same bytes), with NaN and infinities as ``null``
    instead of an exception."""

    def render(self, content: Any) -> bytes:
        return dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


__all__ = ["FiniteJSONResponse", "dumps", "finite"]
