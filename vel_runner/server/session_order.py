"""``GET /v1/sessions?sort=tokens``: the session listing ordered by usage, most first.

The default order, ``(agent_id, session_id)``, pages with the stores' keyset listing. A usage
order cannot (the stores keep no index on it), so each page lists the matching sessions of
the selected agents, sorts them by ``(-value, agent_id, session_id)`` and continues after the
cursor's ``(value, agent_id, session_id)``: pages stay stable while the sums grow.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from .errors import ApiError

if TYPE_CHECKING:
    from ..agent import Agent
    from ..storage import SessionInfo

SortKey = Literal["id", "tokens", "input_tokens", "output_tokens", "turns"]


def pack_cursor(*key: str | int) -> str:
    """An opaque cursor for a listing position."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unpack_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    """The key a cursor holds, checked against ``kinds`` (422 if it is not ours)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        key = None
    if not (
        isinstance(key, list)
        and len(key) == len(kinds)
        and all(type(part) is kind for part, kind in zip(key, kinds, strict=True))
    ):
        raise ApiError(422, f"cursor {cursor[:80]!r} is not a cursor this server returned")
    return key


def usage_value(info: SessionInfo, sort: str) -> int:
    """The number a usage sort orders by."""
    if sort == "tokens":
        return info.input_tokens + info.output_tokens
    return int(getattr(info, sort))


async def usage_page(
    agents: Sequence[Agent],
    sort: str,
    cursor: str | None,
    limit: int,
    inactive_for: float | None,
) -> tuple[list[SessionInfo], str | None]:
    """One page ordered by ``sort`` (descending) and the cursor of the next one."""
    rows: list[SessionInfo] = []
    for agent in agents:
        rows += await agent.store.list(agent.id, inactive_for=inactive_for)

    def order(info: SessionInfo) -> tuple[int, str, str]:
        return (-usage_value(info, sort), info.agent_id, info.session_id)

    rows.sort(key=order)
    if cursor:
        value, agent_id, session_id = unpack_cursor(cursor, (int, str, str))
        after = (-value, agent_id, session_id)
        rows = [row for row in rows if order(row) > after]
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    last = page[-1]
    return page, pack_cursor(usage_value(last, sort), last.agent_id, last.session_id)
