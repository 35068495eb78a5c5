"""LiveState: how listings and ``/v1/events`` events change what the dashboard knows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vel_runner.tui.api_types import AgentInfo, ConfigInfo, ServerEvent, SessionSummary
from vel_runner.tui.live_state import LiveState

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def state() -> LiveState:
    live = LiveState()
    agents = [
        AgentInfo("alpha", "offline", "echo-1", "memory", "memory", "full", 3600.0),
        AgentInfo("beta", "offline", "echo-1", "pg", "database", "window", None),
    ]
    session = SessionSummary("alpha", "a1", 2, T0, T0, T0 + timedelta(hours=1), "memory")
    live.load([session], agents, ConfigInfo("v1", T0, None), T0)
    return live


def event(kind: str, agent: str, session: str, count: int, at: datetime) -> ServerEvent:
    data = {
        "kind": kind,
        "agent_id": agent,
        "session_id": session,
        "store": "pg" if agent == "beta" else "memory",
        "message_count": count,
        "at": at.isoformat(),
    }
    return ServerEvent(kind, data)


def test_a_new_session_of_a_known_agent_needs_no_listing() -> None:
    live = state()
    at = T0 + timedelta(minutes=5)
    assert live.apply(event("created", "alpha", "a2", 2, at)) is False
    assert live.sessions["alpha/a2"] == SessionSummary(
        "alpha", "a2", 2, at, at, at + timedelta(hours=1), "memory"
    )
    assert live.apply(event("created", "beta", "b1", 2, at)) is False
    assert live.sessions["beta/b1"].expires_at is None  # its agent has no TTL
    assert live.sessions["beta/b1"].store == "pg"


def test_a_turn_updates_count_activity_and_expiry_in_place() -> None:
    live = state()
    at = T0 + timedelta(minutes=10)
    assert live.apply(event("updated", "alpha", "a1", 4, at)) is False
    updated = live.sessions["alpha/a1"]
    assert (updated.message_count, updated.created_at, updated.updated_at) == (4, T0, at)
    assert updated.expires_at == at + timedelta(hours=1)


def test_cleared_and_expired_sessions_leave() -> None:
    live = state()
    assert live.apply(event("cleared", "alpha", "a1", 0, T0)) is False
    assert live.sessions == {}
    assert live.apply(event("expired", "alpha", "gone", 0, T0)) is False


def test_what_it_cannot_apply_asks_for_a_listing() -> None:
    live = state()
    at = T0 + timedelta(minutes=1)
    assert live.apply(event("created", "gamma", "g1", 2, at)) is True  # agent not known yet
    assert live.apply(event("updated", "alpha", "unknown", 6, at)) is True  # its creation missed
    assert live.apply(ServerEvent("reloaded", {"kind": "reloaded", "version": "v2"})) is True
    broken = event("updated", "alpha", "a1", 4, at)
    assert live.apply(ServerEvent("updated", {**broken.data, "at": "yesterday"})) is True
    assert live.sessions["alpha/a1"].message_count == 2  # nothing half-applied


def test_a_failed_reload_is_kept_with_its_position() -> None:
    live = state()
    error = {"file": "agents.yaml", "line": 3, "column": 5, "message": "bad", "at": None}
    needs_listing = live.apply(ServerEvent("reload-failed", {"error": error}))
    assert needs_listing is False
    assert live.config is not None and live.config.last_reload_error is not None
    assert live.config.last_reload_error.location == "agents.yaml:3:5"


def test_expired_sessions_are_dropped_without_waiting_for_an_event() -> None:
    live = state()
    live.apply(event("created", "beta", "b1", 2, T0))  # no TTL: never expires
    assert live.drop_expired(T0 + timedelta(minutes=59)) is False
    assert live.drop_expired(T0 + timedelta(hours=1)) is True
    assert list(live.sessions) == ["beta/b1"]


def turn_event(
    kind: str, session: str | None, at: datetime, run: str, **finished: object
) -> ServerEvent:
    data = {"kind": kind, "agent_id": "alpha", "session_id": session, "run_id": run}
    return ServerEvent(kind, {**data, "at": at.isoformat(), **finished})


def test_turn_events_mark_the_session_and_add_its_usage_without_a_listing() -> None:
    live = state()
    at = T0 + timedelta(seconds=30)
    assert live.apply(turn_event("turn-started", "a1", at, "r1")) is False
    assert live.sessions["alpha/a1"].in_turn and live.stats.numbers("alpha", at).in_flight == 1
    live.load(list(live.sessions.values()), live.agents, live.config, at)  # type: ignore[arg-type]
    assert live.sessions["alpha/a1"].in_turn  # a listing meanwhile keeps the mark
    done = {"outcome": "ok", "duration": 0.25, "input_tokens": 7, "output_tokens": 5}
    assert live.apply(turn_event("turn-finished", "a1", at, "r1", **done)) is False
    session = live.sessions["alpha/a1"]
    assert not session.in_turn and (session.input_tokens, session.output_tokens) == (7, 5)
    assert session.turns == 1 and session.total_tokens == 12
    failed = {"outcome": "provider_error", "duration": 1.0, "input_tokens": 0, "output_tokens": 0}
    live.apply(turn_event("turn-started", None, at, "r2"))
    live.apply(turn_event("turn-finished", None, at, "r2", **failed))
    numbers = live.stats.numbers("alpha", at + timedelta(seconds=1))
    assert (numbers.turns_per_min, numbers.tokens_per_min, numbers.in_flight) == (2, 12, 0)
    assert numbers.error_rate == 0.5 and numbers.p50 == numbers.p99 == 0.25
    later = live.stats.numbers("alpha", at + timedelta(minutes=2))
    assert later.turns_per_min == 0 and later.error_rate == 0.5  # latency window: 5 minutes
    assert live.stats.numbers("alpha", at + timedelta(minutes=6)).p50 is None


def test_latency_percentiles_are_nearest_rank() -> None:
    from vel_runner.tui.agent_stats import percentile

    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99)) == (50.0, 99.0)
    assert percentile([3.0], 0.99) == 3.0
