"""One turn: hold the session -> build the model's view -> [model step -> tool step]* -> commit.

:meth:`Turn.run` is the non-streamed turn: each step is a coroutine that returns its result
(:mod:`vel_runner.turn_steps`), the provider answers whole, and no event is made.
:class:`~vel_runner.turn_stream.StreamedTurn` is the streamed turn: the same loop, whose steps
yield the typed events of :mod:`vel_runner.events` as they come, handed to the caller through
an encoder (a protocol: the UI message stream, chat completions chunks...). Both end in the
same :class:`~vel_runner.turn_result.TurnResult`. Before its first step a turn settles the
approvals its session waits for (:mod:`vel_runner.turn_approvals`); an agent with an output
schema has its answer checked (:mod:`vel_runner.turn_output`).

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

from .approvals import Approval, ApprovalAnswer, awaits_approval
from .clock import utc_now
from .errors import VelError
from .events import TurnEvent
from .messages import Message
from .observe import hooks
from .providers.base import Completion, Usage
from .storage import SessionTurn
from .structured_output import OutputSpec, ParsedOutput
from .tools.base import ToolCall, ToolResult
from .turn_approvals import Settling, hold_back, refused
from .turn_options import TurnOptions
from .turn_output import checked_answer
from .turn_result import TurnResult, finish_reason
from .turn_session import (
    TurnHost,
    cancelled,
    closing,
    commit,
    hold,
    keep_stopped,
    model_request,
    stored_inputs,
)
from .turn_steps import StepSettings, add_usage, complete, run_tools
from .turn_stop import Delivered, answer_message, kept_on_stop

__all__ = ["Encode", "Turn", "TurnHost"]

T = TypeVar("T")
#: A protocol's encoder: the items one event becomes on the wire (often one, maybe none).
Encode = Callable[[TurnEvent], Sequence[T]]

#: What the model is told about a call it made on its last allowed step.
NOT_RUN = "not run: the run reached max_steps"


class Turn:
    """One turn of one agent. Make it, then ``await run()`` (and read ``result()``), or
    iterate ``stream(encode)`` (a :class:`~vel_runner.turn_stream.StreamedTurn`).

    ``inputs`` is the user message, or the results of client tool calls (which continue the
    session's last assistant message); ``answers`` (with no inputs) answer the approvals the
    session waits for. ``shape``: the schema the answer must follow (the agent's ``output``,
    unless the client asked for a format of its own).
    """

    __slots__ = (
        "agent",
        "answers",
        "calls_for_client",
        "inputs",
        "model_reason",
        "new",
        "options",
        "output",
        "parsed",
        "plan",
        "run_id",
        "session_id",
        "settling",
        "shape",
        "step",
        "steps",
        "usage",
        "waiting",
    )

    def __init__(
        self,
        agent: TurnHost,
        run_id: str,
        session_id: str | None,
        inputs: list[Message],
        options: TurnOptions,
        plan: StepSettings,
        answers: Sequence[ApprovalAnswer] | None = None,
        shape: OutputSpec | None = None,
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
        self.answers = answers
        self.shape = shape
        self.parsed: ParsedOutput | None = None
        self.waiting: tuple[Approval, ...] = ()  # calls that wait for a person at the end
        self.settling: Settling | None = None

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
            self.waiting,
            None if self.parsed is None else self.parsed.typed,
            None if self.parsed is None else self.parsed.value,
        )

    # -- the non-streamed turn -----------------------------------------------------------------
    async def run(self) -> None:
        """The turn, whole; then :meth:`result` (or ``output`` alone: ``Agent.run`` reads
        only that, and a :class:`TurnResult` is a frozen dataclass: a call per field)."""
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
                    try:
                        if self.answers is not None or awaits_approval(held.history):
                            async for _ in self._settle(held):
                                pass
                        if not self.waiting:
                            await self._loop(self._request(held))
                    except VelError:
                        await self._keep_on_failure(held)
                        raise
                    stored = stored_inputs(self.options, self.inputs)
                    await commit(agent, held, [*stored, *self.new], self.usage)
        except BaseException as exc:
            if observed is not None:
                observed.end(exc)
            raise
        if observed is not None:
            observed.end()

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
                    text = reply.text
                    if self.shape is not None:
                        text = await self._checked(messages, text)
                    self.new.append(answer_message(self.run_id, text))
                    return
                ours, theirs = self._calls_made(reply.text, calls)
                ours, waiting = hold_back(self.new[-1], ours, agent.toolbox, utc_now())
                results = await run_tools(agent.toolbox, ours, step)
                if not self._after_tools(messages, results, theirs, waiting):
                    return
        except asyncio.CancelledError:
            raise cancelled() from None

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

    def _after_tools(
        self,
        messages: list[Message],
        results: Sequence[ToolResult],
        theirs: list[ToolCall],
        waiting: list[Approval],
    ) -> bool:
        """Add a tool step's results; ``False`` when the turn ends after it (calls the client
        runs, calls that wait for a person)."""
        added = [result.message() for result in results]
        if waiting and (self.session_id is None or self.agent.ctxmgr.stateless):
            added.extend(refused(waiting))  # nowhere to wait: not run
            waiting = []
        self.new.extend(added)
        if not theirs and not waiting:
            messages.extend(self.new[-len(added) - 1 :])
            return True
        self.model_reason = "tool_calls"
        self.calls_for_client = tuple(theirs)
        if waiting:  # stored under the run id: an id to continue from, as an answer has
            self.waiting = tuple(waiting)
            self.new[-len(added) - 1]["id"] = self.run_id
        return False

    async def _checked(self, messages: list[Message], text: str) -> str:
        """The answer's text checked against the output schema (repaired once, else the turn
        fails: :mod:`vel_runner.turn_output`)."""
        agent, spec = self.agent, self.shape
        assert spec is not None
        self.parsed, repair = await checked_answer(
            spec, agent.provider, agent.model_name, messages, text, self.plan.last, self.step
        )
        if repair is not None:
            self.usage = add_usage(self.usage, repair.usage)
        self.output = self.output[: len(self.output) - len(text)] + self.parsed.text
        return self.parsed.text

    async def _settle(self, held: SessionTurn) -> AsyncGenerator[TurnEvent]:
        """Settle what the session waits for (:class:`Settling`): the answers' calls run or
        are denied, a new message closes what waits; their results go ahead of the inputs."""
        settling = self.settling = Settling()
        events = settling.events(
            held.history, self.inputs, self.answers, self.agent.toolbox, self.step, utc_now()
        )
        async with closing(events):
            async for event in events:
                yield event
        if settling.messages:
            self.inputs = [*settling.messages, *self.inputs]
        if settling.waiting:
            self.waiting = tuple(settling.waiting)
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
        if kept is None and self.settling is not None and self.settling.ran:
            kept = self.settling.messages  # approved calls ran: their results stay
        if kept is not None:
            await keep_stopped(self.agent, held, kept, self.usage, self.run_id)

    async def _keep_on_failure(self, held: SessionTurn | None) -> None:
        """A failed turn stores nothing, unless it keeps its input (a chat keeps the
        question whatever happens to its answer) or approved calls already ran (they
        happened: their results stay, so a retry does not run them again)."""
        if held is None:
            return
        if self.options.keep_input:
            stored = stored_inputs(self.options, self.inputs)
        elif self.settling is not None and self.settling.ran:
            stored = self.settling.messages
        else:
            return
        if stored:
            await keep_stopped(self.agent, held, stored, self.usage, self.run_id)
