"""The tool loop of one run: model step, tool calls, model step... as UI-stream events.

The run ends when the model answers without calling a tool, or at ``max_steps`` model calls:
the last one is made with ``tool_choice: "none"``, so a run always ends with an answer. A
step's calls run through the agent's :class:`~vel_runner.tools.Toolbox` (errors become results
the model reads). Calls of tools the client declared (``client_tools``, the OpenAI-compatible
route) are not run here: the run stops and hands them back in ``client_calls``.

What the run adds to the session (assistant ``tool_calls`` messages, ``tool`` results, the
answer) collects in ``new_messages``; the agent stores them with the user message, in one
commit, only when the loop finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from .. import events
from ..messages import Message
from ..observe import hooks
from ..providers.base import Chunk, Provider, Usage
from .base import ToolCall, ToolResult
from .toolbox import Toolbox

#: Model calls per run when an agent does not say.
DEFAULT_MAX_STEPS = 10


def add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if more is None:
        return total
    if total is None:
        return more
    return Usage(
        total.prompt_tokens + more.prompt_tokens, total.completion_tokens + more.completion_tokens
    )


class ToolLoop:
    """One run's steps. Iterate :meth:`run`; then read ``text``, ``usage``, ``new_messages``."""

    def __init__(
        self,
        provider: Provider,
        model: str,
        generation: Mapping[str, Any],
        toolbox: Toolbox,
        *,
        run_id: str,
        max_steps: int = DEFAULT_MAX_STEPS,
        stream: bool = True,
        client_tools: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.provider = provider
        self.model = model
        self.generation = generation
        self.toolbox = toolbox
        self.run_id = run_id
        self.max_steps = max_steps
        self.stream = stream
        self.client_tools = [dict(t) for t in client_tools]
        self.client_names = {str((t.get("function") or {}).get("name")) for t in self.client_tools}
        self.text = ""
        self.usage: Usage | None = None
        #: Why the model stopped its last step, in OpenAI's words (``None``: not said).
        self.finish_reason: str | None = None
        self.new_messages: list[Message] = []
        self.client_calls: list[ToolCall] = []
        self.steps = 0

    def _settings(self, last: bool) -> dict[str, Any]:
        tools = [*self.toolbox.openai_tools(), *self.client_tools]
        if not tools:
            return dict(self.generation)
        settings = {**self.generation, "tools": tools}
        if last:
            settings["tool_choice"] = "none"
        elif not self.toolbox.parallel:
            settings["parallel_tool_calls"] = False
        return settings

    async def _chunks(
        self, messages: list[Message], settings: dict[str, Any]
    ) -> AsyncIterator[Chunk]:
        """The model's reply as chunks, streamed or (``stream=False``) whole."""
        if self.stream:
            with hooks.model(self.run_id, self.model, messages) as step:
                parts: list[str] = []  # the reply, for traces that record contents
                stream = self.provider.stream(messages, model=self.model, settings=settings)
                async with aclosing(stream):  # type: ignore[type-var]
                    async for chunk in stream:
                        if chunk.delta:
                            parts.append(chunk.delta)
                        step.usage(chunk.usage)
                        yield chunk
                step.usage(None, "".join(parts))
            return
        from ..providers.base import ToolCallDelta

        with hooks.model(self.run_id, self.model, messages) as step:
            completion = await self.provider.complete(messages, model=self.model, settings=settings)
            step.usage(completion.usage, completion.text)
        if completion.text:
            yield Chunk(completion.text)
        for call in completion.tool_calls:
            yield Chunk(tool_call=ToolCallDelta(call.id, call.name, call.arguments))
        yield Chunk(usage=completion.usage, finish_reason=completion.finish_reason)

    async def run(self, messages: Sequence[Message]) -> AsyncIterator[events.Event]:
        """The run's events, from the first ``start-step`` to the answer's ``text-end`` (the
        agent sends the last ``finish-step`` once the turn is stored)."""
        sent = list(messages)
        has_tools = bool(self.toolbox) or bool(self.client_tools)
        for step in range(self.max_steps):
            last = not has_tools or step == self.max_steps - 1
            self.steps += 1
            text_id = f"text-{self.run_id}" if step == 0 else f"text-{self.run_id}-{step}"
            parts: list[str] = []
            calls: dict[str, list[Any]] = {}  # id -> [name, argument pieces]
            yield {"type": "start-step"}
            async for chunk in self._chunks(sent, self._settings(last)):
                if chunk.delta:
                    if not parts:
                        yield {"type": "text-start", "id": text_id}
                    parts.append(chunk.delta)
                    yield events.text_delta(text_id, chunk.delta)
                delta = chunk.tool_call
                if delta is not None:
                    entry = calls.get(delta.id)
                    if entry is None:
                        entry = calls[delta.id] = [delta.name or "", []]
                        yield events.tool_input_start(delta.id, entry[0])
                    elif delta.name and not entry[0]:
                        entry[0] = delta.name
                    if delta.arguments:
                        entry[1].append(delta.arguments)
                        yield events.tool_input_delta(delta.id, delta.arguments)
                self.usage = add_usage(self.usage, chunk.usage)
                self.finish_reason = chunk.finish_reason or self.finish_reason
            text = "".join(parts)
            found = [ToolCall(cid, name, "".join(args)) for cid, (name, args) in calls.items()]
            if not found or last:
                if not parts:
                    yield {"type": "text-start", "id": text_id}
                yield {"type": "text-end", "id": text_id}
                for call in found:  # the model ignored tool_choice "none": not run, not stored
                    yield events.tool_input_available(call.id, call.name, call.parsed_input())
                    yield events.tool_output(call.id, None, "not run: the run reached max_steps")
                self.text = text
                self.new_messages.append({"role": "assistant", "content": text})
                return
            if parts:
                yield {"type": "text-end", "id": text_id}
            for call in found:
                yield events.tool_input_available(call.id, call.name, call.parsed_input())
            self.new_messages.append(
                {
                    "role": "assistant",
                    "content": text or None,
                    "tool_calls": [call.message_part() for call in found],
                }
            )
            ours = [
                c for c in found if self.toolbox.owns(c.name) or c.name not in self.client_names
            ]
            async for event in self._run_calls(ours):
                yield event
            self.client_calls = [c for c in found if c not in ours]
            if self.client_calls:
                self.text = text
                self.finish_reason = "tool_calls"
                return
            sent = [*messages, *self.new_messages]
            yield {"type": "finish-step"}

    async def _run_calls(self, calls: list[ToolCall]) -> AsyncIterator[events.Event]:
        """Run ``calls``; yield each output as it arrives; store results in the model's order."""
        queue: asyncio.Queue[ToolResult] = asyncio.Queue()
        started = time.perf_counter()
        task = asyncio.ensure_future(self.toolbox.run_all(calls, queue.put_nowait))
        getter: asyncio.Future[ToolResult] | None = None
        try:
            for _ in calls:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break  # run_all ended early (it raised): ``await task`` says why
                result = getter.result()
                outcome = "ok" if result.error is None else "error"
                seconds = time.perf_counter() - started  # the calls run at once
                name = self.toolbox.metric_name(result.call.name)  # not what the model made up
                hooks.record_tool_call("", name, outcome, seconds, self.run_id)
                yield events.tool_output(result.call.id, result.output, result.error)
            results = await task
        finally:
            for pending in (getter, task):  # cancellation: stop every call still running
                if pending is not None and not pending.done():
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pending
        self.new_messages.extend(result.message() for result in results)


__all__ = ["DEFAULT_MAX_STEPS", "ToolLoop", "add_usage"]
