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
