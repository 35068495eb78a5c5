"""The streamed turn: the loop of :class:`~vel_runner.turn.Turn`, as its typed events
(:mod:`vel_runner.events`) handed to the caller through a protocol's encoder as they come.

The same steps as the plain turn in their streamed forms (the provider's ``stream``, the tool
step's outputs as each call ends), the same settling of approvals and the same commit, plus
what only a stream has: a consumer that stops early keeps what it took
(:mod:`vel_runner.turn_stop`), and a failure is sent as :class:`~vel_runner.events.TurnFailed`
before it is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TypeVar

from .approvals import awaits_approval
from .clock import utc_now
from .errors import TurnCancelledError, VelError
from .events import (
    ApprovalRequested,
    StepEnded,
    StepStarted,
    TextDelta,
    TextEnded,
    ToolCallReady,
    ToolDenied,
    ToolOutput,
    TurnEvent,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from .messages import Message
from .observe import hooks
from .storage import SessionTurn
from .turn import NOT_RUN, Encode, Turn
from .turn_approvals import hold_back
from .turn_session import (
    CANCELLED,
    NO_SESSION,
    being_cancelled,
    closing,
    commit,
    hold,
    stored_inputs,
)
from .turn_steps import ReplyBuilder, StreamedTools
from .turn_stop import Delivered, answer_message

T = TypeVar("T")


class StreamedTurn(Turn):
    """A turn run as a stream: iterate :meth:`stream` (``Agent.stream``, ``run_stream``)."""

    __slots__ = ()

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
                    events = self._all_events(held)
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
                            await self._keep_on_failure(held)
                            raise TurnCancelledError(CANCELLED) from None  # by the provider
                        await self._keep(held, delivered)
                        raise
                    except VelError:
                        await self._keep_on_failure(held)
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

    async def _all_events(self, held: SessionTurn | None) -> AsyncGenerator[TurnEvent]:
        """The turn's events: the approvals it settles, then its steps (none while calls
        still wait for a person)."""
        if held is not None and (self.answers is not None or awaits_approval(held.history)):
            async for event in self._settle(held):
                yield event
        if not self.waiting:
            async for event in self._events(self._request(held)):
                yield event

    async def _events(self, messages: list[Message]) -> AsyncGenerator[TurnEvent]:
        """The loop of :meth:`Turn._loop`, streamed: each step's events as they come. With an
        output schema, the text is sent once checked (:mod:`vel_runner.turn_output`)."""
        agent, plan, turn_step = self.agent, self.plan, self.step
        model = agent.model_name
        for index in range(agent.max_steps):
            last = not plan.has_tools or index == agent.max_steps - 1
            settings = plan.last if last else plan.settings
            yield StepStarted(index)
            reply = ReplyBuilder(plan.client_names)
            parts = reply.parts
            checked = self.shape is not None
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
                            if not checked:
                                yield TextDelta(text)
                            continue
                        for event in reply.feed(chunk):
                            if not checked or type(event) is not TextDelta:
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
                if checked:
                    text = await self._checked(messages, text)
                    if text:
                        yield TextDelta(text)
                yield TextEnded(text, answer=True)
                for call in calls:  # the model ignored tool_choice "none": not run, not stored
                    yield ToolCallReady(call, call.parsed_input())
                    yield ToolOutput(call.id, call.name, None, NOT_RUN)
                self.new.append(answer_message(self.run_id, text))
                return
            if checked and text:
                yield TextDelta(text)
            yield TextEnded(text, answer=False)
            for call in calls:
                yield ToolCallReady(call, call.parsed_input(), call.name in plan.client_names)
            ours, theirs = self._calls_made(text, calls)
            ours, waiting = hold_back(self.new[-1], ours, agent.toolbox, utc_now())
            nowhere = self.session_id is None or agent.ctxmgr.stateless  # nowhere to wait
            for approval in waiting:
                if nowhere:
                    yield ToolDenied(approval.tool_call_id, approval.tool, None)
                else:
                    yield ApprovalRequested(approval)
            tools = StreamedTools()
            tool_events = tools.events(agent.toolbox, ours, turn_step)
            async with closing(tool_events):
                async for output in tool_events:
                    yield output
            if not self._after_tools(messages, tools.results, theirs, waiting):
                return
            yield StepEnded(index)
