"""The two steps a turn alternates: a model call and the tool calls it asked for.

Each step has a plain form, a coroutine that returns its result (what a non-streamed turn
awaits: no events are made), and a streamed form that yields the step's events as they come
and leaves the same result behind. :class:`StepSettings` is what every model call of one turn
sends, worked out once per turn.

A model step's result is a :class:`~vel_runner.providers.base.Completion` whether the
provider answered whole (``complete``) or streamed it (``stream``): text, tool calls, usage
and finish reason. A tool step's result is the calls' :class:`~vel_runner.tools.base.ToolResult`
in the model's order; every failure of a call is an error result the model reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .events import TextDelta, ToolCallStarted, ToolInputDelta, ToolOutput
from .messages import Message
from .observe.hooks import AnyStep
from .providers.base import Chunk, Completion, Provider, Usage
from .tools.base import ToolCall, ToolResult
from .tools.toolbox import Toolbox

EMPTY: frozenset[str] = frozenset()


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if more is None:
        return total
    if total is None:
        return more
    return Usage(
        total.prompt_tokens + more.prompt_tokens, total.completion_tokens + more.completion_tokens
    )


@dataclass(slots=True)
class StepSettings:
    """What each model call of one turn sends, computed once per turn (not per step)."""

    #: Every step's settings but the last allowed one's.
    settings: Mapping[str, Any]
    #: The last allowed step's (``tool_choice: "none"``: a run always ends with an answer).
    last: Mapping[str, Any]
    #: Are tools offered at all? Without, the first reply is the answer.
    has_tools: bool = False
    #: Names of the client's own tools: the turn does not run them, it stops for them.
    client_names: frozenset[str] = EMPTY


def step_settings(
    generation: Mapping[str, Any],
    toolbox: Toolbox,
    client_tools: Sequence[Mapping[str, Any]] = (),
) -> StepSettings:
    """The settings of one turn's model calls: the agent's generation settings, its tools'
    schemas and the client's, ``tool_choice: "none"`` on the last allowed step."""
    tools = toolbox.openai_tools()
    if client_tools:
        tools.extend(dict(tool) for tool in client_tools)
    if not tools:
        return StepSettings(generation, generation)
    settings: dict[str, Any] = {**generation, "tools": tools}
    last = {**settings, "tool_choice": "none"}
    if not toolbox.parallel:
        settings["parallel_tool_calls"] = False
    names = {str((tool.get("function") or {}).get("name")) for tool in client_tools}
    return StepSettings(settings, last, True, frozenset(names - set(toolbox.names)))


async def complete(
    provider: Provider,
    model: str,
    messages: list[Message],
    settings: Mapping[str, Any],
    turn: AnyStep,
) -> Completion:
    """The model step of a non-streamed turn: the provider's whole reply."""
    with turn.model(model, messages) as step:
        completion = await provider.complete(messages, model=model, settings=settings)
        step.usage(completion.usage, completion.text)
    return completion


class ReplyBuilder:
    """The model step of a streamed turn, chunk by chunk: :meth:`feed` gives each chunk's
    events, :meth:`completion` the whole reply at the end (the plain step's result)."""

    __slots__ = ("calls", "client_names", "parts", "reason", "usage")

    def __init__(self, client_names: frozenset[str]) -> None:
        self.client_names = client_names
        self.parts: list[str] = []
        self.calls: dict[str, list[Any]] = {}  # id -> [name, argument pieces]
        self.usage: Usage | None = None
        self.reason: str | None = None

    def feed(self, chunk: Chunk) -> tuple[TextDelta | ToolCallStarted | ToolInputDelta, ...]:
        """Take one chunk of the reply; the events it makes."""
        if chunk.usage is not None:
            self.usage = add_usage(self.usage, chunk.usage)
        if chunk.finish_reason:
            self.reason = chunk.finish_reason
        delta = chunk.tool_call
        if delta is None:
            if chunk.delta:
                self.parts.append(chunk.delta)
                return (TextDelta(chunk.delta),)
            return ()
        made: list[TextDelta | ToolCallStarted | ToolInputDelta] = []
        if chunk.delta:
            self.parts.append(chunk.delta)
            made.append(TextDelta(chunk.delta))
        entry = self.calls.get(delta.id)
        if entry is None:
            name = delta.name or ""
            entry = self.calls[delta.id] = [name, []]
            made.append(ToolCallStarted(delta.id, name, name in self.client_names))
        elif delta.name and not entry[0]:
            entry[0] = delta.name
        if delta.arguments:
            entry[1].append(delta.arguments)
            made.append(ToolInputDelta(delta.id, delta.arguments))
        return tuple(made)

    def completion(self) -> Completion:
        calls = tuple(
            ToolCall(cid, name, "".join(args)) for cid, (name, args) in self.calls.items()
        )
        return Completion("".join(self.parts), self.usage, calls, self.reason)


async def run_tools(toolbox: Toolbox, calls: Sequence[ToolCall], turn: AnyStep) -> list[ToolResult]:
    """The tool step of a non-streamed turn: every call's result, in the model's order."""
    started = time.perf_counter()

    def report(result: ToolResult) -> None:
        outcome = "ok" if result.error is None else "error"
        name = toolbox.metric_name(result.call.name)  # not a name the model made up
        turn.tool_done(name, outcome, time.perf_counter() - started)

    return await toolbox.run_all(calls, report)


class StreamedTools:
    """The tool step of a streamed turn: :meth:`events` yields each call's output as it
    arrives; ``results`` are all of them, in the model's order, afterwards."""

    __slots__ = ("results",)

    def __init__(self) -> None:
        self.results: list[ToolResult] = []

    async def events(
        self, toolbox: Toolbox, calls: Sequence[ToolCall], turn: AnyStep
    ) -> AsyncGenerator[ToolOutput]:
        queue: asyncio.Queue[ToolResult] = asyncio.Queue()
        started = time.perf_counter()
        task = asyncio.ensure_future(toolbox.run_all(calls, queue.put_nowait))
        getter: asyncio.Future[ToolResult] | None = None
        try:
            for _ in calls:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break  # run_all ended early (it raised): ``await task`` says why
                result = getter.result()
                outcome = "ok" if result.error is None else "error"
                name = toolbox.metric_name(result.call.name)  # not a name the model made up
                turn.tool_done(name, outcome, time.perf_counter() - started)
                yield ToolOutput(result.call.id, result.call.name, result.output, result.error)
            self.results = await task
        finally:
            for pending in (getter, task):  # cancellation: stop every call still running
                if pending is not None and not pending.done():
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pending
