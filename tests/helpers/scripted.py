"""A scripted model: a real :class:`~vel_runner.providers.base.Provider` whose replies a test
writes in advance, step by step, and whose steps wait on gates the test opens.

Tests sequence on conditions instead of sleeps: a reply can stop after some of its deltas
until the test opens its gate (``Say(..., hold_after=2)`` then ``provider.release()``), and
the test can wait until the model got there (``await provider.holding.wait()``) or was called
(``await provider.wait_for_calls(n)``). Both ``complete`` and ``stream`` play the same script,
so a streamed and a whole turn see the same model. What the model received is kept in
``requests`` (messages) and ``settings``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vel_runner.providers.base import Chunk, Completion, ToolCallDelta, Usage
from vel_runner.tools.base import ToolCall


@dataclass
class Say:
    """One model reply: text deltas, tool calls (name, arguments), usage."""

    text: Sequence[str] = ()
    calls: Sequence[tuple[str, Mapping[str, Any] | str]] = ()
    usage: Usage = field(default_factory=lambda: Usage(10, 5))
    finish_reason: str | None = None
    #: Stop after this many deltas until the provider is released (``None``: no stop).
    hold_after: int | None = None

    def tool_calls(self, step: int) -> tuple[ToolCall, ...]:
        return tuple(
            ToolCall(
                f"call_{step}_{index}",
                name,
                arguments if isinstance(arguments, str) else json.dumps(arguments),
            )
            for index, (name, arguments) in enumerate(self.calls)
        )

    @property
    def reason(self) -> str:
        return self.finish_reason or ("tool_calls" if self.calls else "stop")


class ScriptedProvider:
    """Plays ``replies`` in order, one per model call (the last one again when they run out,
    if ``repeat_last``)."""

    type = "scripted"

    def __init__(self, *replies: Say, repeat_last: bool = False) -> None:
        self.replies = list(replies)
        self.repeat_last = repeat_last
        self.requests: list[list[dict[str, Any]]] = []
        self.settings: list[dict[str, Any]] = []
        self.holding = asyncio.Event()  # set while a reply waits at its gate
        self._gate = asyncio.Event()
        self._called = asyncio.Condition()

    def release(self) -> None:
        """Let a held reply go on (and every later one that holds)."""
        self._gate.set()

    async def wait_for_calls(self, count: int) -> None:
        async with self._called:
            await self._called.wait_for(lambda: len(self.requests) >= count)

    async def _next(self, messages: Sequence[Any], settings: Mapping[str, Any]) -> tuple[int, Say]:
        step = len(self.requests)
        self.requests.append([dict(m) for m in messages])
        self.settings.append(dict(settings))
        async with self._called:
            self._called.notify_all()
        if step < len(self.replies):
            return step, self.replies[step]
        if self.repeat_last and self.replies:
            return step, self.replies[-1]
        raise AssertionError(f"the script has {len(self.replies)} replies; call {step + 1} came")

    async def _hold(self) -> None:
        self.holding.set()
        try:
            await self._gate.wait()
        finally:
            self.holding.clear()

    async def complete(
        self, messages: Sequence[Any], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        step, say = await self._next(messages, settings)
        if say.hold_after is not None:
            await self._hold()
        return Completion("".join(say.text), say.usage, say.tool_calls(step), say.reason)

    async def stream(
        self, messages: Sequence[Any], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        step, say = await self._next(messages, settings)
        for index, delta in enumerate(say.text):
            if index == say.hold_after:
                await self._hold()
            yield Chunk(delta)
        if say.hold_after is not None and say.hold_after >= len(say.text):
            await self._hold()
        for call in say.tool_calls(step):
            half = len(call.arguments) // 2
            yield Chunk(tool_call=ToolCallDelta(call.id, call.name, call.arguments[:half]))
            yield Chunk(tool_call=ToolCallDelta(call.id, None, call.arguments[half:]))
        yield Chunk(usage=say.usage, finish_reason=say.reason)

    async def aclose(self) -> None:
        return None
