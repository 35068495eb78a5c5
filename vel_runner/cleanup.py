"""Process-wide session cleanup, as the session guide's cleanup section writes it::

    from vel_runner import get_inactive_sessions

    def cleanup_old_sessions():
        for session_id in get_inactive_sessions(max_age_hours=1):
            agent.ctxmgr.clear_session(session_id)

It looks across every agent alive in this process (or one, with ``agent_id``).
"""

from __future__ import annotations

from .agent import LIVE_AGENTS
from .context import age_seconds
from .errors import InvalidInputError


def get_inactive_sessions(
    max_age_hours: float | None = None,
    *,
    max_age_seconds: float | None = None,
    agent_id: str | None = None,
    maxage_seconds: float | None = None,
) -> list[str]:
    """Ids of sessions not updated for the given age, over this process's agents (sorted).

    The age is ``max_age_hours`` (the session guide's spelling) or ``max_age_seconds``, as
    for ``agent.ctxmgr.get_inactive_sessions``; ``maxage_seconds``, an earlier spelling,
    still works.
    """
    if maxage_seconds is not None:
        if max_age_seconds is not None:
            raise InvalidInputError("give max_age_seconds only (maxage_seconds is its old name)")
        max_age_seconds = maxage_seconds
    age = age_seconds(max_age_hours, max_age_seconds)
    ids: set[str] = set()
    seen_stores: set[tuple[int, str]] = set()
    for agent in list(LIVE_AGENTS):
        if agent_id is not None and agent.id != agent_id:
            continue
        key = (id(agent.store), agent.id)
        if key in seen_stores:
            continue
        seen_stores.add(key)
        ids.update(info.session_id for info in agent.store.list_sync(agent.id, inactive_for=age))
    return sorted(ids)
