"""One turn: hold the session -> build the model's view -> [model step -> tool step]* -> commit.

:meth:`Turn.run` is the non-streamed turn: each step is a coroutine that returns its result
(:mod:`vel_runner.turn_steps`), the provider answers whole, and no event is made.
:meth:`Turn.stream` is the streamed turn: the same loop, whose steps yield the typed events of
:mod:`vel_runner.events` as they come, handed to the caller through an encoder (a protocol:
the UI message stream, chat completions chunks...). Both end in the same
:class:`~vel_runner.turn_result.TurnResult`.

The loop ends when the model answers without calling a tool, or at ``max_steps`` model calls
(the last one with ``tool_choice: "none"``, so a run always ends with an answer). A step's
calls run through the agent's toolbox; calls of tools the client declared are not run: the
turn stops and hands them back. What the run adds (assistant ``tool_calls`` messages, ``tool``
results, the answer under the turn's ``run_id``) is stored with the user message in one
commit once the loop is done; a failed or cancelled turn stores nothing, and a streamed turn
whose consumer stops keeps what :mod:`vel_runner.turn_stop` says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import TypeVar

from .errors import TurnCancelledError, VelError
from .events import (
    StepEnded,
    StepStarted,
    TextDelta,
    TextEnded,
    ToolCallReady,
    ToolOutput,
    TurnEvent,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from .messages import Message
from .observe import hooks
from .providers.base import Completion, Usage
from .storage import SessionTurn
from .tools.base import ToolCall
from .turn_options import TurnOptions
from .turn_result import TurnResult, finish_reason
from .turn_session import (
    CANCELLED,
    NO_SESSION,
    TurnHost,
    being_cancelled,
    cancelled,
    closing,
    commit,
    hold,
    keep_stopped,
    model_request,
    stored_inputs,
)
from .turn_steps import (
    ReplyBuilder,
    StepSettings,
    StreamedTools,
    add_usage,
    complete,
    run_tools,
)
from .turn_stop import Delivered, answer_message, kept_on_stop

__all__ = ["Encode", "Turn", "TurnHost"]

T = TypeVar("T")
#: A protocol's encoder: the items one event becomes on the wire (often one, maybe none).
Encode = Callable[[TurnEvent], Sequence[T]]

#: What the model is told about a call it made on its last allowed step.
NOT_RUN = "not run: the run reached max_steps"


class Turn:
    """One turn of one agent. Make it, then ``await run()`` or iterate ``stream(encode)``.

    ``inputs`` is the user message, or the results of client tool calls (which continue the
    session's last assistant message).
    """

    __slots__ = (
        "agent",
        "calls_for_client",
        "inputs",
        "model_reason",
        "new",
        "options",
        "output",
        "plan",
        "run_id",
        "session_id",
        "step",
        "steps",
        "usage",
    )

    def __init__(
        self,
        agent: TurnHost,
        run_id: str,
        session_id: str | None,
        inputs: list[Message],
        options: TurnOptions,
        plan: StepSettings,
    ) -> None:
        self.agent = agent
        self.run_id = run_id
        self.session_id = session_id
        self.inputs = inputs
        self.options = options
        self.plan = plan
        self.step: hooks.AnyStep = hooks.NO_STEP
        self.new: list[Message] = []  # what the run added: tool calls, results, the answer
        self.output = ""  # everything the model wrote, step after step
        self.steps = 0
        self.usage: Usage | None = None
        self.model_reason: str | None = None  # why the model stopped its last step
        self.calls_for_client: tuple[ToolCall, ...] = ()

    def result(self) -> TurnResult:
        reason = self.model_reason
        return TurnResult(
            self.output,
            self.usage,
            self.session_id,
            self.run_id,
            self.calls_for_client,
            tuple(self.new),
            "stop" if reason is None or reason == "stop" else finish_reason(reason),
        )

    # -- the non-streamed turn -----------------------------------------------------------------
    async def run(self) -> TurnResult:
        agent, sid = self.agent, self.session_id
        observed = None
        if hooks.observing:  # else nothing to time, and no step is made
            step = hooks.turn(agent.id, sid, self.run_id)
            if isinstance(step, hooks.Step):
                observed = self.step = step.__enter__()
        try:
            if sid is None or agent.ctxmgr.stateless:
                await self._loop(self._request(None))
            else:
                if not agent.store_open:
                    await agent.open_store()
                async with hold(agent, self.step, sid) as held:
                    messages = self._request(held)
                    try:
                        await self._loop(messages)
                    except VelError:
                        await self._keep_question(held)
                        raise
                    stored = stored_inputs(self.options, self.inputs)
                    await commit(agent, held, [*stored, *self.new], self.usage)
        except BaseException as exc:
            if observed is not None:
                observed.end(exc)
            raise
        if observed is not None:
            observed.end()
        return self.result()

    async def _loop(self, messages: list[Message]) -> None:
        agent, plan, step = self.agent, self.plan, self.step
        provider, model = agent.provider, agent.model_name
        try:
            for index in range(agent.max_steps):
                last = not plan.has_tools or index == agent.max_steps - 1
                settings = plan.last if last else plan.settings
                if step is hooks.NO_STEP:  # nothing observes: the provider's call as it is
                    reply = await provider.complete(messages, model=model, settings=settings)
                else:
                    reply = await complete(provider, model, messages, settings, step)
                calls = self._took_reply(reply)
                if not calls or last:
                    self.new.append(answer_message(self.run_id, reply.text))
                    return
                ours, theirs = self._calls_made(reply.text, calls)
                results = await run_tools(agent.toolbox, ours, step)
                self.new.extend(result.message() for result in results)
                if theirs:
                    self._stop_for_client(theirs)
                    return
                messages.extend(self.new[-len(results) - 1 :])
        except asyncio.CancelledError:
            raise cancelled() from None

    # -- the streamed turn ---------------------------------------------------------------------
    async def stream(self, encode: Encode[T]) -> AsyncGenerator[T]:
        """The turn's events through ``encode``. A consumer that stops early keeps what it
        took (:mod:`vel_runner.turn_stop`); a failure ends with :class:`TurnFailed`, then
        raises."""
        agent = self.agent
        for item in encode(TurnStarted(self.run_id, agent.id, self.session_id)):
            yield item
        delivered = Delivered()
        try:
            with hooks.turn(agent.id, self.session_id, self.run_id) as self.step:
                keeps = self.session_id is not None and not agent.ctxmgr.stateless
                if keeps and not agent.store_open:
                    await agent.open_store()
                holding = hold(agent, self.step, self.session_id or "") if keeps else NO_SESSION
                async with holding as held:
                    events = self._events(self._request(held))
                    try:
                        async for event in events:
                            items = encode(event)
                            kind = type(event)
                            if kind is TextDelta and items:
                                if len(items) > 1:
                                    for item in items[:-1]:
                                        yield item
                                text = delivered.pending = event.text  # type: ignore[union-attr]
                                try:
                                    yield items[-1]
                                except asyncio.CancelledError:  # thrown in: nobody took it
                                    delivered.pending = ""
                                    delivered.stopped = True
                                    raise
                                delivered.pending = ""  # it asks for more: it took the delta
                                delivered.parts.append(text)
                                continue
                            if kind is StepStarted:
                                delivered.new_step()
                            for item in items:
                                try:
                                    yield item
                                except asyncio.CancelledError:
                                    delivered.stopped = True
                                    raise
                    except GeneratorExit:  # closed: it took the item it was handed
                        delivered.took()
                        await events.aclose()
                        await self._keep(held, delivered)
                        raise
                    except asyncio.CancelledError:
                        await events.aclose()
                        if not delivered.stopped and not being_cancelled():
                            await self._keep_question(held)
                            raise TurnCancelledError(CANCELLED) from None  # by the provider
                        await self._keep(held, delivered)
                        raise
                    except VelError:
                        await self._keep_question(held)
                        raise
                    if held is not None:
                        stored = stored_inputs(self.options, self.inputs)
                        await commit(agent, held, [*stored, *self.new], self.usage)
        except VelError as exc:
            for item in encode(TurnFailed(exc)):
                yield item
            raise
        for event in (StepEnded(self.steps - 1), TurnFinished(self.result())):
            for item in encode(event):
                yield item

    async def _events(self, messages: list[Message]) -> AsyncGenerator[TurnEvent]:
        """The loop of :meth:`_loop`, streamed: each step's events as they come."""
        agent, plan, turn_step = self.agent, self.plan, self.step
        model = agent.model_name
        for index in range(agent.max_steps):
            last = not plan.has_tools or index == agent.max_steps - 1
            settings = plan.last if last else plan.settings
            yield StepStarted(index)
            reply = ReplyBuilder(plan.client_names)
            parts = reply.parts
            step = turn_step.model(model, messages)
            observed = step if isinstance(step, hooks.Step) else None  # else: nothing to time
            if observed is not None:
                observed.__enter__()
            try:
                chunks = agent.provider.stream(messages, model=model, settings=settings)
                async with closing(chunks):
                    async for chunk in chunks:
                        text = chunk.delta
                        if text and chunk.tool_call is None and chunk.usage is None:
                            parts.append(text)  # a text delta: nearly every chunk
                            yield TextDelta(text)
                            continue
                        for event in reply.feed(chunk):
                            yield event
                        if observed is not None and chunk.usage is not None:
                            observed.usage(chunk.usage)
                completion = reply.completion()
            except BaseException as exc:
                if observed is not None:
                    observed.end(exc)
                raise
            if observed is not None:
                observed.usage(None, completion.text)
                observed.end()
            calls = self._took_reply(completion)
            text = completion.text
            if not calls or last:
                yield TextEnded(text, answer=True)
                for call in calls:  # the model ignored tool_choice "none": not run, not stored
                    yield ToolCallReady(call, call.parsed_input())
                    yield ToolOutput(call.id, call.name, None, NOT_RUN)
                self.new.append(answer_message(self.run_id, text))
                return
            yield TextEnded(text, answer=False)
            for call in calls:
                yield ToolCallReady(call, call.parsed_input(), call.name in plan.client_names)
            ours, theirs = self._calls_made(text, calls)
            tools = StreamedTools()
            tool_events = tools.events(agent.toolbox, ours, turn_step)
            async with closing(tool_events):
                async for output in tool_events:
                    yield output
            self.new.extend(result.message() for result in tools.results)
            if theirs:
                self._stop_for_client(theirs)
                return
            messages.extend(self.new[-len(tools.results) - 1 :])
            yield StepEnded(index)

    # -- what both loops share -------------------------------------------------------------------
    def _took_reply(self, reply: Completion) -> tuple[ToolCall, ...]:
        """Note a model step's reply (usage, finish reason, text); its tool calls. (The
        answer's step then stores the reply under the turn's run id.)"""
        if reply.usage is not None:
            self.usage = reply.usage if self.usage is None else add_usage(self.usage, reply.usage)
        if reply.finish_reason:
            self.model_reason = reply.finish_reason
        self.output += reply.text
        self.steps += 1
        return reply.tool_calls

    def _calls_made(
        self, text: str, calls: Sequence[ToolCall]
    ) -> tuple[list[ToolCall], list[ToolCall]]:
        """Note the model's tool calls; the calls the turn runs, and the client's own."""
        self.new.append(
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [call.message_part() for call in calls],
            }
        )
        names = self.plan.client_names
        if not names:
            return list(calls), []
        return [c for c in calls if c.name not in names], [c for c in calls if c.name in names]

    def _stop_for_client(self, calls: list[ToolCall]) -> None:
        self.calls_for_client = tuple(calls)
        self.model_reason = "tool_calls"

    def _request(self, held: SessionTurn | None) -> list[Message]:
        return model_request(
            self.agent, self.run_id, self.session_id, self.inputs, self.options, held
        )

    async def _keep(self, held: SessionTurn | None, delivered: Delivered) -> None:
        """A stopped stream: store what its consumer took (a session turn only)."""
        if held is None:
            return
        options = self.options
        stored = stored_inputs(options, self.inputs)
        kept = kept_on_stop(stored, self.new, delivered, self.run_id, options.keep_input)
        if kept is not None:
            await keep_stopped(self.agent, held, kept, self.usage, self.run_id)

    async def _keep_question(self, held: SessionTurn | None) -> None:
        """A failed turn stores nothing, unless it keeps its input (a chat keeps the
        question whatever happens to its answer)."""
        if held is None or not self.options.keep_input:
            return
        stored = stored_inputs(self.options, self.inputs)
        if stored:
            await keep_stopped(self.agent, held, stored, self.usage, self.run_id)
