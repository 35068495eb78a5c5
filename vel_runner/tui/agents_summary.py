"""Per-agent totals (sessions, messages, tokens) from the listing, live numbers (turns and
tokens per minute, p50/p99 latency, errors, in flight) from the turn events, tool calls (and
calls stuck past their timeout) and tool errors, store and context mode."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from textual.widgets import DataTable

from .agent_stats import AgentNumbers, AgentStats
from .api_types import AgentInfo, SessionSummary

#: Narrow headers: the live numbers must fit beside the totals in an 80-110 column terminal.
COLUMNS = (
    "Agent",
    "Sessions",
    "Msgs",
    "Tokens",
    "Turns/min",
    "p50",
    "p99",
    "Errors",
    "Tok/min",
    "Running",
    "Tool calls",
    "Tool errs",
    "Store",
    "Context",
    "Model",
)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def live_cells(numbers: AgentNumbers) -> tuple[str, ...]:
    """The columns the turn events keep current."""
    errors = "-" if numbers.error_rate is None else f"{numbers.error_rate:.0%}"
    return (
        f"{numbers.turns_per_min:,}",
        _ms(numbers.p50),
        _ms(numbers.p99),
        errors,
        f"{numbers.tokens_per_min:,}",
        f"{numbers.in_flight:,}",
    )


Totals = list[tuple[str, tuple[str, ...], tuple[str, ...]]]


def agent_totals(agents: Sequence[AgentInfo], sessions: Iterable[SessionSummary]) -> Totals:
    """Per agent (plus any agent that only appears in the sessions, e.g. mid-reload): its
    listing totals, and its tool calls, tool errors, store, context mode and model."""
    counts: dict[str, list[int]] = {agent.id: [0, 0, 0] for agent in agents}
    for session in sessions:
        total = counts.setdefault(session.agent_id, [0, 0, 0])
        total[0] += 1
        total[1] += session.message_count
        total[2] += session.total_tokens
    known = {agent.id: agent for agent in agents}
    found: Totals = []
    for agent_id, (n_sessions, n_messages, n_tokens) in counts.items():
        agent = known.get(agent_id)
        store = f"{agent.store} ({agent.store_type})" if agent else "?"
        model = f"{agent.provider}/{agent.model}" if agent else "?"
        mode = agent.context_mode if agent else "?"
        calls = f"{agent.tool_calls:,}" if agent and agent.tools else "-"
        if agent and agent.stuck:  # threads held by calls past their timeout: say so
            calls += f" ({agent.stuck:,} stuck)"
        errors = f"{agent.tool_errors:,}" if agent and agent.tools else "-"
        numbers = (f"{n_sessions:,}", f"{n_messages:,}", f"{n_tokens:,}")
        found.append((agent_id, numbers, (calls, errors, store, mode, model)))
    return found


def agent_rows(totals: Totals, stats: AgentStats, now: datetime) -> list[tuple[str, ...]]:
    """The table's rows: listing totals beside the live numbers."""
    return [
        (agent_id, *numbers, *live_cells(stats.numbers(agent_id, now)), *meta)
        for agent_id, numbers, meta in totals
    ]


class AgentsSummary(DataTable[str]):
    """A small read-only table; rebuilt only when a number in it changes. The totals are
    summed when the sessions change (:meth:`show`); a clock tick (:meth:`tick`) recomputes
    only the live numbers."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False)
        self.can_focus = False
        self._rows: list[tuple[str, ...]] = []
        self._totals: Totals = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show(
        self,
        agents: Sequence[AgentInfo],
        sessions: Iterable[SessionSummary],
        stats: AgentStats,
        now: datetime,
    ) -> None:
        self._totals = agent_totals(agents, sessions)
        self.tick(stats, now)

    def tick(self, stats: AgentStats, now: datetime) -> None:
        rows = agent_rows(self._totals, stats, now)
        if rows == self._rows:
            return
        self._rows = rows
        self.clear()
        self.add_rows(rows)
