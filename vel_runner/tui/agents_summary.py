"""Per-agent totals: sessions, messages, tool calls and tool errors, store and context mode,
from agents + sessions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.widgets import DataTable

from .api_types import AgentInfo, SessionSummary

COLUMNS = (
    "Agent",
    "Sessions",
    "Messages",
    "Tool calls",
    "Tool errors",
    "Store",
    "Context",
    "Model",
)


def agent_rows(
    agents: Sequence[AgentInfo], sessions: Iterable[SessionSummary]
) -> list[tuple[str, ...]]:
    """One row per agent (plus any agent that only appears in the sessions, e.g. mid-reload)."""
    counts: dict[str, list[int]] = {agent.id: [0, 0] for agent in agents}
    for session in sessions:
        total = counts.setdefault(session.agent_id, [0, 0])
        total[0] += 1
        total[1] += session.message_count
    known = {agent.id: agent for agent in agents}
    rows: list[tuple[str, ...]] = []
    for agent_id, (n_sessions, n_messages) in counts.items():
        agent = known.get(agent_id)
        store = f"{agent.store} ({agent.store_type})" if agent else "?"
        model = f"{agent.provider}/{agent.model}" if agent else "?"
        mode = agent.context_mode if agent else "?"
        calls = f"{agent.tool_calls:,}" if agent and agent.tools else "-"
        errors = f"{agent.tool_errors:,}" if agent and agent.tools else "-"
        rows.append(
            (agent_id, f"{n_sessions:,}", f"{n_messages:,}", calls, errors, store, mode, model)
        )
    return rows


class AgentsSummary(DataTable[str]):
    """A small read-only table; rebuilt only when a number in it changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False)
        self.can_focus = False
        self._rows: list[tuple[str, ...]] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(self, agents: Sequence[AgentInfo], sessions: Iterable[SessionSummary]) -> None:
        rows = agent_rows(agents, sessions)
        if rows == self._rows:
            return
        self._rows = rows
        self.clear()
        self.add_rows(rows)
