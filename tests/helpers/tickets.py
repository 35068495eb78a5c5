"""The output schema the structured-output tests share: a support ticket, as a JSON Schema
strict mode can serve (``TICKET``) and as a pydantic model (``Ticket``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

TICKET: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "priority": {"enum": ["low", "high"]}},
    "required": ["title", "priority"],
    "additionalProperties": False,
}


class Ticket(BaseModel):
    """A support ticket."""

    title: str
    priority: Literal["low", "high"]
