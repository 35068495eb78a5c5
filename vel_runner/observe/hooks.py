"""The seam between the agent and whoever watches it: turns, model calls and tool calls as
:class:`Step` objects handed to the registered observers, store operations as timings on
their turn's step.

A turn opens its step with ``with hooks.turn(...)`` and keeps it; its model calls and tool
calls are children made from it (``step.model(...)``, ``step.tool_done(...)``), and its store
operations are timed through ``hooks.store_turn(step, ...)``. No registry keyed by run id:
the turn holds its step. With no observer registered every call returns a shared no-op step,
whose children are the no-op step too: an agent outside a server pays one tuple check per
turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import outcome_of

if TYPE_CHECKING:
    from ..messages import Message
    from ..providers.base import Usage
    from ..storage.base import SessionStore, SessionTurn, TokenCounts

StepKind = Literal["turn", "chat", "tool"]

#: ``outcome`` of a step: ``ok`` or what ended it (each error type carries its own).
OUTCOMES = ("ok", "provider_error", "invalid", "conflict", "cancelled", "store_error", "error")

__all__ = [
    "NO_STEP",
    "OUTCOMES",
    "AnyStep",
    "Observer",
    "Step",
    "add_observer",
    "observers",
    "observing",
    "outcome_of",
    "record_tool_call",
    "rejected",
    "store_turn",
    "turn",
]


class Observer(Protocol):
    """Told when a step starts and when it ends (same :class:`Step` object). Must not block
    and must not raise: it runs inside the turn."""

    def started(self, step: Step) -> None: ...

    def ended(self, step: Step) -> None: ...


_observers: tuple[Observer, ...] = ()
#: Is any observer registered? (Read by the turn before it asks for a step.)
observing = False


def add_observer(observer: Observer) -> Callable[[], None]:
    """Register ``observer`` for every agent of this process; returns its remover."""
    global _observers, observing
    _observers = (*_observers, observer)
    observing = True

    def remove() -> None:
        global _observers, observing
        _observers = tuple(o for o in _observers if o is not observer)
        observing = bool(_observers)

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

    def _child(self, kind: StepKind, name: str) -> Step:
        step = Step(kind, name, self.agent, self.run_id)
        step.session, step.parent = self.session, self
        return step

    def model(self, model_name: str, messages: Sequence[Message] | None = None) -> Step:
        """``with turn_step.model(model, messages)`` around one model call of this turn."""
        step = self._child("chat", model_name)
        step.messages = messages
        return step

    def tool(self, tool_name: str) -> Step:
        """``with turn_step.tool(name)`` around one tool call of this turn."""
        return self._child("tool", tool_name)

    def tool_done(self, tool_name: str, outcome: str, seconds: float) -> None:
        """Report a tool call of this turn timed elsewhere (``outcome``: ``ok`` or an error
        label)."""
        record_tool_call(self.agent, tool_name, outcome, seconds, self)

    def __enter__(self) -> Step:
        self.started_at = time.perf_counter()
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
        if self.kind == "chat" and self.parent is not None:
            self.parent.input_tokens += self.input_tokens
            self.parent.output_tokens += self.output_tokens
        for observer in _observers:
            observer.ended(self)


class _NoStep:
    """What the hooks return while nothing observes: every method does nothing, and its
    children are itself."""

    __slots__ = ()

    def model(self, model_name: str, messages: Sequence[Message] | None = None) -> _NoStep:
        return self

    def tool(self, tool_name: str) -> _NoStep:
        return self

    def tool_done(self, tool_name: str, outcome: str, seconds: float) -> None:
        return None

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


def record_tool_call(
    agent_id: str, tool_name: str, outcome: str, seconds: float, parent: Step | None = None
) -> None:
    """Report a tool call timed elsewhere (``outcome``: ``ok`` or an error label), as a
    child of the turn step ``parent`` when there is one."""
    if not _observers:
        return
    step = Step("tool", tool_name, agent_id, parent.run_id if parent else "")
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
    turn: AnyStep, store: SessionStore, agent_id: str, session_id: str, window: int | None
) -> AbstractAsyncContextManager[SessionTurn]:
    """``store.turn(...)``, with its read (taking the session) and its commit timed into the
    turn step's ``store_ops`` (as is while nothing observes)."""
    held = store.turn(agent_id, session_id, window=window)
    if not isinstance(turn, Step):
        return held
    turn.store_ops = []
    return _TimedTurn(held, turn.store_ops, store.name)


class _TimedTurn:
    """A session turn whose read (taking the session) and write (commit) are timed into its
    turn's ``store_ops``."""

    __slots__ = ("_held", "_ops", "_store", "_turn", "history", "summary", "view")

    def __init__(
        self,
        held: AbstractAsyncContextManager[SessionTurn],
        ops: list[tuple[str, str, float, float]],
        store: str,
    ) -> None:
        self._held, self._ops, self._store = held, ops, store
        self.history: list[Message] = []
        self.summary: str | None = None
        self.view: Any = None

    async def __aenter__(self) -> _TimedTurn:
        started = time.perf_counter()
        try:
            self._turn = await self._held.__aenter__()
        finally:
            self._ops.append(("read", self._store, started, time.perf_counter() - started))
        self.history, self.summary = self._turn.history, self._turn.summary
        self.view = getattr(self._turn, "view", None)
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
