"""The runs route's protocol (``POST /v1/agents/{agent_id}/runs``): a whole turn as JSON;
streamed, it is the UI message stream (:mod:`.ui_stream`). A turn that ends with calls waiting
for a person answers ``status: "awaiting_approval"`` with them in ``approvals``; the answer is
the same route with ``approvals`` in place of ``message``."""

from __future__ import annotations

from typing import Any

from ..turn_result import TurnResult
from .ui_stream import UIMessageStream as RunEvents

__all__ = ["RunEvents", "run_object"]


def run_object(result: TurnResult) -> dict[str, Any]:
    """``{"status", "output", "session_id", "run_id", "usage"}``, with ``approvals`` (the
    calls that wait: ``status`` is ``awaiting_approval``) and ``object`` (an agent with an
    ``output`` schema: its answer parsed) when there are any."""
    body: dict[str, Any] = {
        "status": result.status,
        "output": result.output,
        "session_id": result.session_id,
        "run_id": result.run_id,
        "usage": result.usage.as_dict() if result.usage is not None else None,
    }
    if result.approvals:
        body["approvals"] = [approval.as_dict() for approval in result.approvals]
    if result.object_json is not None:
        body["object"] = result.object_json
    return body
