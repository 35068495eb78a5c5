"""What the dashboard knows about the server, updated from listings and live events.

Plain Python (no widgets), so the screen stays thin and the logic is testable. Session
events patch the known sessions at once (a new turn shows without waiting for a listing);
a new session of a known agent is added from its ``created`` event alone; events the state
cannot apply by itself (a reload, an agent it does not know yet) ask for a fresh listing, so
a busy server does not make a dashboard of 10,000 sessions re-read them all for each new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .agent_stats import AgentStats, FinishedTurn
from .api_types import AgentInfo, ConfigInfo, ReloadErrorInfo, ServerEvent, SessionSummary
from .rows import matches

TURN_EVENTS = frozenset({"turn-started", "turn-finished"})
#: The event that opens the stream: the turns that finished in the server's last minutes.
RECENT_TURNS = "recent-turns"


@dataclass(slots=True)
class LiveState:
    """The last good data from the server (kept on screen while it is unreachable)."""

    sessions: dict[str, SessionSummary] = field(default_factory=dict)
    agents: list[AgentInfo] = field(default_factory=list)
    config: ConfigInfo | None = None
    filter_text: str = ""
    last_data_at: datetime | None = None
    stats: AgentStats = field(default_factory=AgentStats)
    #: Sessions with turns running now, and how many (waiting ones included).
    turning: dict[str, int] = field(default_factory=dict)

    def load(
        self,
        sessions: Sequence[SessionSummary],
        agents: Sequence[AgentInfo],
        config: ConfigInfo,
        now: datetime,
    ) -> None:
        """Replace everything with a fresh listing."""
        self.sessions = {session.key: session for session in sessions}
        for key in self.turning:
            known = self.sessions.get(key)
            if known is not None:
                self.sessions[key] = replace(known, in_turn=True)
        self.agents = list(agents)
        self.config = config
        self.last_data_at = now

    def drop_expired(self, now: datetime) -> bool:
        """Forget sessions whose expiry has passed (the server serves them no more, and its
        sweep may come minutes later); ``True`` when some were dropped."""
        gone = [k for k, s in self.sessions.items() if s.expires_at and s.expires_at <= now]
        for key in gone:
            del self.sessions[key]
        return bool(gone)

    def visible(self) -> dict[str, SessionSummary]:
        """The sessions the ``/`` filter lets through."""
        if not self.filter_text:
            return self.sessions
        query = self.filter_text
        return {key: s for key, s in self.sessions.items() if matches(s, query)}

    def apply(self, event: ServerEvent) -> bool:
        """Apply one ``/v1/events`` event; ``True`` when a full listing is needed."""
        if event.kind in TURN_EVENTS:
            return self._apply_turn(event)
        if event.kind == RECENT_TURNS:
            self._load_recent(event.data.get("turns"))
            return False
        if event.kind == "reload-failed" and self.config is not None:
            error = event.data.get("error")
            if isinstance(error, dict):
                failed = ReloadErrorInfo.parse(error)
                self.config = replace(self.config, last_reload_error=failed)
                return False
            return True
        key = event.session_key
        if key is None:
            return True  # reloaded (new agents, new version) or an unknown kind
        if event.kind in {"cleared", "expired"}:
            self.sessions.pop(key, None)
            return False
        known = self.sessions.get(key)
        count = event.data.get("message_count")
        at = _parse_time(event.data.get("at"))
        agent = next((a for a in self.agents if a.id == event.data["agent_id"]), None)
        if agent is None or not isinstance(count, int) or at is None:
            return True  # an agent from a newer config, or an event this client cannot read
        expires = at + timedelta(seconds=agent.ttl) if agent.ttl else None
        if event.kind == "created" and known is None:
            store = str(event.data.get("store") or agent.store)
            session_id = str(event.data["session_id"])
            self.sessions[key] = SessionSummary(agent.id, session_id, count, at, at, expires, store)
            return False
        if event.kind != "updated" or known is None:
            return True
        if not agent.ttl:
            expires = known.expires_at
        self.sessions[key] = replace(known, message_count=count, updated_at=at, expires_at=expires)
        return False

    def _load_recent(self, turns: object) -> None:
        """The turns that finished before the stream opened (the server's last minutes):
        the live numbers start from them instead of from zero. They replace what an earlier
        stream delivered (a reconnect sends them again); session sums are the listing's."""
        finished = [_finished(t) for t in turns] if isinstance(turns, list) else []
        self.stats.replace_finished([turn for turn in finished if turn is not None])

    def _apply_turn(self, event: ServerEvent) -> bool:
        """A turn started or finished: the agent's numbers, the session's mark and sums."""
        data = event.data
        agent, run_id, sid = data.get("agent_id"), data.get("run_id"), data.get("session_id")
        at = _parse_time(data.get("at"))
        if not isinstance(agent, str) or not isinstance(run_id, str) or at is None:
            return False  # nothing a listing would repair
        key = f"{agent}/{sid}" if isinstance(sid, str) else None
        if event.kind == "turn-started":
            self.stats.started(agent, run_id)
            if key is not None:
                self.turning[key] = self.turning.get(key, 0) + 1
                self._mark(key, True)
            return False
        finished = _finished(data)
        if finished is not None:
            self.stats.ended(finished, run_id)
        ok = data.get("outcome") == "ok"
        tokens_in, tokens_out = _count(data.get("input_tokens")), _count(data.get("output_tokens"))
        if key is not None:
            left = self.turning.pop(key, 0) - 1
            if left > 0:
                self.turning[key] = left
            known = self.sessions.get(key)
            if known is not None and ok:
                known = replace(
                    known,
                    input_tokens=known.input_tokens + tokens_in,
                    output_tokens=known.output_tokens + tokens_out,
                    turns=known.turns + 1,
                )
                self.sessions[key] = known
            self._mark(key, left > 0)
        return False

    def _mark(self, key: str, in_turn: bool) -> None:
        known = self.sessions.get(key)
        if known is not None and known.in_turn != in_turn:
            self.sessions[key] = replace(known, in_turn=in_turn)


def _finished(data: object) -> FinishedTurn | None:
    """A ``turn-finished`` event's data (alone, or in ``recent-turns``) for the live numbers
    (``None`` if this client cannot read it)."""
    if not isinstance(data, Mapping):
        return None
    agent, at = data.get("agent_id"), _parse_time(data.get("at"))
    if not isinstance(agent, str) or at is None:
        return None
    duration = data.get("duration")
    seconds = float(duration) if isinstance(duration, (int, float)) else 0.0
    tokens = _count(data.get("input_tokens")) + _count(data.get("output_tokens"))
    return FinishedTurn(at, agent, data.get("outcome") == "ok", seconds, tokens)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
