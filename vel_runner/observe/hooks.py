"""The seam between the agent and whoever watches it: turns, model calls and tool calls as
:class:`Step` objects handed to the registered observers, store operations as timings on
their turn's step.

The agent opens a step with ``with hooks.turn(...)`` / ``hooks.model(run_id, ...)`` /
``hooks.store_turn(...)``; child steps find their turn by its run id, so no context variable
has to survive an async generator. With no observer registered every call returns a shared
no-op step: an agent outside a server pays one tuple check per step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import (
    InvalidInputError,
    ProviderError,
    SessionConflictError,
    StoreUnavailableError,
    TurnCancelledError,
)

if TYPE_CHECKING:
    from ..messages import Message
    from ..providers.base import Usage
    from ..storage.base import SessionStore, SessionTurn, TokenCounts

StepKind = Literal["turn", "chat", "tool"]

#: ``outcome`` of a step: ``ok`` or what ended it.
OUTCOMES = ("ok", "provider_error", "invalid", "conflict", "cancelled", "store_error", "error")


def outcome_of(exc: BaseException | None) -> str:
    """The outcome label of a step that raised ``exc`` (``None``: it succeeded)."""
    if exc is None:
        return "ok"
    if isinstance(exc, ProviderError):
        return "provider_error"
    if isinstance(exc, InvalidInputError):
        return "invalid"
    if isinstance(exc, SessionConflictError):
        return "conflict"
    if isinstance(exc, (TurnCancelledError, asyncio.CancelledError, GeneratorExit)):
        return "cancelled"
    if isinstance(exc, StoreUnavailableError):
        return "store_error"
    return "error"


class Observer(Protocol):
    """Told when a step starts and when it ends (same :class:`Step` object). Must not block
    and must not raise: it runs inside the turn."""

    def started(self, step: Step) -> None: ...

    def ended(self, step: Step) -> None: ...


_observers: tuple[Observer, ...] = ()
_turns: dict[str, Step] = {}


def add_observer(observer: Observer) -> Callable[[], None]:
    """Register ``observer`` for every agent of this process; returns its remover."""
    global _observers
    _observers = (*_observers, observer)

    def remove() -> None:
        global _observers
        _observers = tuple(o for o in _observers if o is not observer)

    return remove


def observers() -> tuple[Observer, ...]:
    """The observers registered now."""
    return _observers


class Step:
    """One timed piece of a turn. No ``__slots__``: the rarely set fields are class
    defaults, so a step costs a handful of assignments (the turn path creates four)."""

    session: str | None = None
    parent: Step | None = None
    messages: Sequence[Message] | None = None
    started_at = 0.0
    seconds = 0.0
    outcome = "ok"
    error: BaseException | None = None
    input_tokens = 0
    output_tokens = 0
    output: str | None = None
    #: The trace observer's span of this step.
    span: Any = None
    #: A turn's session store operations: ``(op, store, started_at, seconds)`` each (plain
    #: tuples, not steps: they are on every turn's path and observers read them at its end).
    store_ops: list[tuple[str, str, float, float]] | None = None

    def __init__(self, kind: StepKind, name: str, agent: str, run_id: str) -> None:
        self.kind, self.name, self.agent, self.run_id = kind, name, agent, run_id

    def usage(self, usage: Usage | None, output: str | None = None) -> None:
        """What the model reported (a chat step); its turn sums the tokens of its chats."""
        if usage is not None:
            self.input_tokens += usage.prompt_tokens
            self.output_tokens += usage.completion_tokens
        if output is not None:
            self.output = output

    def __enter__(self) -> Step:
        self.started_at = time.perf_counter()
        if self.kind == "turn":
            _turns[self.run_id] = self
        for observer in _observers:
            observer.started(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end(exc)

    def end(self, exc: BaseException | None = None) -> None:
        """Close the step (``exc``: what ended it) and tell the observers."""
        self.seconds = time.perf_counter() - self.started_at
        if exc is not None:
            self.error = exc
            self.outcome = outcome_of(exc)
        kind = self.kind
        if kind == "turn":
            _turns.pop(self.run_id, None)
        elif kind == "chat" and self.parent is not None:
            self.parent.input_tokens += self.input_tokens
            self.parent.output_tokens += self.output_tokens
        for observer in _observers:
            observer.ended(self)


class _NoStep:
    """What the hooks return while nothing observes: every method does nothing."""

    __slots__ = ()

    def usage(self, usage: Usage | None, output: str | None = None) -> None:
        return None

    def __enter__(self) -> _NoStep:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


NO_STEP = _NoStep()
AnyStep = Step | _NoStep


def turn(agent_id: str, session_id: str | None, run_id: str) -> AnyStep:
    """``with hooks.turn(...)`` around a whole turn (``invoke_agent``)."""
    if not _observers:
        return NO_STEP
    step = Step("turn", agent_id, agent_id, run_id)
    step.session = session_id
    return step


def _child(run_id: str, kind: StepKind, name: str) -> Step | None:
    parent = _turns.get(run_id) if _observers else None
    if parent is None:
        return None
    step = Step(kind, name, parent.agent, run_id)
    step.session, step.parent = parent.session, parent
    return step


def model(run_id: str, model_name: str, messages: Sequence[Message] | None = None) -> AnyStep:
    """``with hooks.model(run_id, model)`` around one model call of turn ``run_id``."""
    step = _child(run_id, "chat", model_name)
    if step is None:
        return NO_STEP
    step.messages = messages
    return step


def tool(run_id: str, tool_name: str) -> AnyStep:
    """``with hooks.tool(run_id, name)`` around one tool call of turn ``run_id``."""
    return _child(run_id, "tool", tool_name) or NO_STEP


def record_tool_call(
    agent_id: str, tool_name: str, outcome: str, seconds: float, run_id: str = ""
) -> None:
    """Report a tool call timed elsewhere (``outcome``: ``ok`` or an error label); with the
    ``run_id`` of a turn in flight, ``agent_id`` may be empty (the turn's agent is used)."""
    if not _observers:
        return
    parent = _turns.get(run_id)
    step = Step("tool", tool_name, agent_id or (parent.agent if parent else ""), run_id)
    step.parent = parent
    if parent is not None:
        step.session = parent.session
    step.started_at = time.perf_counter() - seconds
    step.seconds, step.outcome = seconds, outcome
    for observer in _observers:
        observer.ended(step)


def rejected(agent_id: str, run_id: str, exc: BaseException) -> None:
    """A turn refused before it started (bad input to a streamed turn)."""
    if _observers:
        step = Step("turn", agent_id, agent_id, run_id)
        step.__enter__()
        step.end(exc)


def store_turn(
    run_id: str, store: SessionStore, agent_id: str, session_id: str, window: int | None
) -> AbstractAsyncContextManager[SessionTurn]:
    """``store.turn(...)``, with its read (taking the session) and its commit timed."""
    held = store.turn(agent_id, session_id, window=window)
    turn = _turns.get(run_id) if _observers else None
    if turn is None:
        return held
    turn.store_ops = []
    return _TimedTurn(held, turn.store_ops, store.name)


class _TimedTurn:
    """A session turn whose read (taking the session) and write (commit) are timed into its
    turn's ``store_ops``."""

    __slots__ = ("_held", "_ops", "_store", "_turn", "history", "summary")

    def __init__(
        self,
        held: AbstractAsyncContextManager[SessionTurn],
        ops: list[tuple[str, str, float, float]],
        store: str,
    ) -> None:
        self._held, self._ops, self._store = held, ops, store
        self.history: list[Message] = []
        self.summary: str | None = None

    async def __aenter__(self) -> _TimedTurn:
        started = time.perf_counter()
        try:
            self._turn = await self._held.__aenter__()
        finally:
            self._ops.append(("read", self._store, started, time.perf_counter() - started))
        self.history, self.summary = self._turn.history, self._turn.summary
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._held.__aexit__(exc_type, exc, tb)

    async def commit(
        self, new_messages: Sequence[Message], *, usage: TokenCounts = (0, 0), **options: Any
    ) -> None:
        started = time.perf_counter()
        try:
            await self._turn.commit(new_messages, usage=usage, **options)
        finally:
            self._ops.append(("write", self._store, started, time.perf_counter() - started))
