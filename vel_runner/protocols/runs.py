"""The runs route's protocol (``POST /v1/agents/{agent_id}/runs``): a whole turn as JSON;
streamed, it is the UI message stream (:mod:`.ui_stream`)."""

from __future__ import annotations

from typing import Any

from ..turn_result import TurnResult
from .ui_stream import UIMessageStream as RunEvents

__all__ = ["RunEvents", "run_object"]


def run_object(result: TurnResult) -> dict[str, Any]:
    """``{"output", "session_id", "run_id", "usage"}``."""
    return {
        "output": result.output,
        "session_id": result.session_id,
        "run_id": result.run_id,
        "usage": result.usage.as_dict() if result.usage is not None else None,
    }
