"""Sessions that wait for a person, written as a turn would store them (for tests of what
reads them: the stores' listings, ``GET /v1/approvals``, the dashboard)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vel_runner.approvals import request_metadata
from vel_runner.clock import utc_now
from vel_runner.tools.base import ToolCall, ToolSpec


def waiting_step(
    calls: list[ToolCall],
    specs: Mapping[str, ToolSpec],
    *,
    now: datetime | None = None,
    user: str = "clean up",
) -> list[dict[str, Any]]:
    """A user message and the assistant's ``calls`` (asked at ``now``): those whose spec
    needs approval wait (``metadata.approvals``), the others have an ``ok`` result."""
    assistant = {
        "role": "assistant",
        "content": "On it.",
        "tool_calls": [c.message_part() for c in calls],
        "metadata": {"approvals": request_metadata(calls, specs, now or utc_now())},
    }
    ran = [
        {"role": "tool", "tool_call_id": c.id, "content": "ok"}
        for c in calls
        if not specs[c.name].approval
    ]
    return [{"role": "user", "content": user}, assistant, *ran]
