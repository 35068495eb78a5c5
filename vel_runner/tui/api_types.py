"""Typed views of the server's JSON (``docs/http-api.md``), parsed strictly.

A field of the wrong type raises :class:`BadResponse` naming it, so a server that speaks a
different contract shows a clear message instead of a traceback deep in a widget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class MonitorError(Exception):
    """Anything that went wrong talking to the server; ``str()`` is meant for people."""


class ServerUnreachable(MonitorError):
    """No answer: refused connection, timeout, dropped stream."""


class Unauthorized(MonitorError):
    """The server wants a (different) API key."""


class BadResponse(MonitorError):
    """The server answered something that is not the contract's JSON."""


class ErrorResponse(MonitorError):
    """A 4xx/5xx with the contract's ``{"error": {"type", "message"}}`` body."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(f"{message} (HTTP {status} {kind})")
        self.status = status
        self.kind = kind


def _field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BadResponse(f"the server sent {name}={value!r:.60}, expected {kind}")
    return value


def _optional(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    return None if data.get(name) is None else _field(data, name, kind)


def _time(data: Mapping[str, Any], name: str) -> datetime | None:
    text = _optional(data, name, str)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BadResponse(f"the server sent {name}={text!r:.60}, expected an ISO time") from None


def _count(data: Mapping[str, Any], key: str) -> int:
    """A non-negative count (0 when an older server does not send it)."""
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _object(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise BadResponse(f"the server sent {type(data).__name__} for {what}, expected an object")
    return data


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """One agent as ``GET /v1/agents`` lists it."""

    id: str
    provider: str
    model: str
    store: str
    store_type: str
    context_mode: str
    ttl: float | None
    tools: tuple[str, ...] = ()
    #: Tool calls since the server started (kept across reloads), and those that ended in
    #: an error.
    tool_calls: int = 0
    tool_errors: int = 0
    #: Calls still running past their timeout, per tool (only tools that have some).
    tool_calls_stuck: tuple[tuple[str, int], ...] = ()

    @property
    def stuck(self) -> int:
        """Calls of this agent's tools still running past their timeout."""
        return sum(count for _, count in self.tool_calls_stuck)

    @classmethod
    def parse(cls, raw: object) -> AgentInfo:
        data = _object(raw, "an agent")
        return cls(
            id=_field(data, "id", str),
            provider=str(data.get("provider") or ""),
            model=str(data.get("model") or ""),
            store=str(data.get("store") or ""),
            store_type=str(data.get("store_type") or ""),
            context_mode=str(data.get("context_mode") or ""),
            ttl=_optional(data, "ttl", (int, float)),
            tools=tuple(str(t) for t in data.get("tools") or () if isinstance(t, str)),
            tool_calls=_count(data, "tool_calls"),
            tool_errors=_count(data, "tool_errors"),
            tool_calls_stuck=_stuck(data.get("tool_calls_stuck")),
        )


def _stuck(raw: object) -> tuple[tuple[str, int], ...]:
    """``{"tool": count}`` as sorted pairs (what is not a count is left out)."""
    if not isinstance(raw, dict):
        return ()
    return tuple(sorted((str(tool), _count(raw, tool)) for tool in raw if _count(raw, tool) > 0))


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One row of ``GET /v1/sessions``."""

    agent_id: str
    session_id: str
    message_count: int
    created_at: datetime | None
    updated_at: datetime | None
    expires_at: datetime | None
    store: str
    input_tokens: int = 0
    output_tokens: int = 0
    turns: int = 0
    #: A turn runs on it right now (from the live events).
    in_turn: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def key(self) -> str:
        """The dashboard's row key: ``agent_id/session_id``."""
        return f"{self.agent_id}/{self.session_id}"

    @classmethod
    def parse(cls, raw: object) -> SessionSummary:
        data = _object(raw, "a session")
        return cls(
            agent_id=_field(data, "agent_id", str),
            session_id=_field(data, "session_id", str),
            message_count=_field(data, "message_count", int),
            created_at=_time(data, "created_at"),
            updated_at=_time(data, "updated_at"),
            expires_at=_time(data, "expires_at"),
            store=str(data.get("store") or ""),
            input_tokens=_optional(data, "input_tokens", int) or 0,
            output_tokens=_optional(data, "output_tokens", int) or 0,
            turns=_optional(data, "turns", int) or 0,
        )


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """``GET /v1/agents/{agent}/sessions/{session}``: the summary plus its messages."""

    summary: SessionSummary
    messages: list[dict[str, Any]]
    running_summary: str | None

    @classmethod
    def parse(cls, raw: object) -> SessionDetail:
        data = _object(raw, "a session")
        messages = _field(data, "messages", list)
        return cls(
            summary=SessionSummary.parse(data),
            messages=[dict(_object(m, "a message")) for m in messages],
            running_summary=_optional(data, "summary", str),
        )


@dataclass(frozen=True, slots=True)
class ReloadErrorInfo:
    """Why the last config reload failed, with where."""

    file: str
    line: int | None
    column: int | None
    message: str
    at: datetime | None

    @property
    def location(self) -> str:
        """``agents.yaml:12:3`` (as much of it as is known)."""
        parts = [self.file or "?"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    @classmethod
    def parse(cls, raw: object) -> ReloadErrorInfo:
        data = _object(raw, "a reload error")
        return cls(
            file=str(data.get("file") or ""),
            line=_optional(data, "line", int),
            column=_optional(data, "column", int),
            message=str(data.get("message") or "reload failed"),
            at=_time(data, "at"),
        )


@dataclass(frozen=True, slots=True)
class ConfigInfo:
    """``GET /v1/config``: which config is live and whether the last reload failed."""

    version: str
    loaded_at: datetime | None
    last_reload_error: ReloadErrorInfo | None

    @classmethod
    def parse(cls, raw: object) -> ConfigInfo:
        data = _object(raw, "the config")
        error = data.get("last_reload_error")
        return cls(
            version=str(data.get("version") or ""),
            loaded_at=_time(data, "loaded_at"),
            last_reload_error=None if error is None else ReloadErrorInfo.parse(error),
        )


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One ``/v1/events`` message: a session change, a reload or a failed reload."""

    kind: str
    data: Mapping[str, Any]

    @property
    def session_key(self) -> str | None:
        """``agent_id/session_id`` for session events, else ``None``."""
        agent, session = self.data.get("agent_id"), self.data.get("session_id")
        if isinstance(agent, str) and isinstance(session, str):
            return f"{agent}/{session}"
        return None
