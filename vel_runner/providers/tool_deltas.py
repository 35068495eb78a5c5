"""Streamed tool-call deltas from OpenAI-compatible servers, made into calls with stable ids.

Servers differ: OpenAI sends ``index`` on every delta and ``id`` + name on the first one;
Ollama sends no ``index`` (each delta a whole call); some servers send no ``id`` at all. Deltas
are keyed by ``index`` when there is one, else a delta with an id or a name starts a new call
and one with neither continues the last; a call without an id gets a generated one.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from .base import ToolCallDelta


def fallback_id() -> str:
    """An id for a call the server sent without one (unique, OpenAI-shaped)."""
    return f"call_{uuid4().hex[:24]}"


class ToolDeltas:
    """Resolves the raw deltas of one streamed reply (``ChoiceDeltaToolCall`` or dicts)."""

    def __init__(self) -> None:
        self._by_index: dict[int, str] = {}
        self._seen: set[str] = set()
        self._last: str | None = None

    def add(self, raw: Any) -> ToolCallDelta:
        index = _field(raw, "index")
        raw_id = _field(raw, "id") or None
        function = _field(raw, "function")
        name = _field(function, "name") or None
        arguments = _field(function, "arguments") or ""
        if isinstance(index, int):
            call_id = self._by_index.get(index)
            if call_id is None or (raw_id and raw_id != call_id and name):
                call_id = self._start(raw_id)
                self._by_index[index] = call_id
        elif raw_id and raw_id in self._seen:
            call_id = raw_id
        elif raw_id or name or self._last is None:
            call_id = self._start(raw_id)
        else:
            call_id = self._last
        self._last = call_id
        return ToolCallDelta(call_id, name, arguments)

    def _start(self, raw_id: str | None) -> str:
        call_id = raw_id if raw_id and raw_id not in self._seen else fallback_id()
        self._seen.add(call_id)
        return call_id


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
