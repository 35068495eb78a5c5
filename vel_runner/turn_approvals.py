"""A turn's part in tool approval (:mod:`vel_runner.approvals` has the storage design).

Two moments of a turn, both under its hold on the session:

- Before its first model step, :class:`Settling` answers what the session has pending. A turn
  given answers (``{"approvals": [...]}``) runs the approved calls (once: it holds the session,
  and checks against what is stored now) and gives the model a denial for the others; a turn
  given a new user message closes what still waits (expired, or passed by), so the model reads
  that those calls did not run. What remains pending after that (answers for only some of a
  step's calls, or a client's results for its own tools beside a waiting call) ends the turn
  again, without a model call.
- In a tool step, :func:`hold_back` keeps the calls whose tools need approval from running and
  marks the assistant message with them (``metadata.approvals``); the turn ends after the step.
  A turn without a session has nowhere to keep them: the model reads that they did not run
  (:func:`refused`) and goes on.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from datetime import datetime

from .approvals import (
    Approval,
    ApprovalAnswer,
    answered_result,
    approvals_in,
    close_pending,
    not_run_result,
    pending,
    request_metadata,
    settle,
)
from .events import ToolDenied, ToolOutput
from .messages import Message
from .observe.hooks import AnyStep
from .tools.base import ToolCall
from .tools.toolbox import Toolbox
from .turn_steps import StreamedTools

#: What the model reads for a call that needs approval in a turn without a session.
NO_SESSION = (
    "not run: this call needs a person's approval, and an approval needs a session to wait "
    "in (this run has none)"
)


class Settling:
    """The approvals a turn settles before its model steps. Iterate :meth:`events` (a plain
    turn drains it), then read ``messages`` (the results to store ahead of the turn's own
    input) and ``waiting`` (what still waits: the turn stops when there is any)."""

    __slots__ = ("messages", "ran", "waiting")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.waiting: list[Approval] = []
        #: Did an approved call run? Then its result is kept even if the turn fails later.
        self.ran = False

    async def events(
        self,
        history: Sequence[Message],
        inputs: Sequence[Message],
        answers: Sequence[ApprovalAnswer] | None,
        toolbox: Toolbox,
        turn: AnyStep,
        now: datetime,
    ) -> AsyncGenerator[ToolOutput | ToolDenied]:
        if answers is not None:
            settlement = settle(history, answers, now)  # 404/409 before anything runs
            tools = StreamedTools()
            calls = [approval.call for approval, _ in settlement.run]
            if calls:
                self.ran = True
                async for output in tools.events(toolbox, calls, turn):
                    yield output
            results = {result.call.id: result for result in tools.results}
            done = [
                (approval, answered_result(approval, results[approval.tool_call_id].content,
                                           True, answer.reason))
                for approval, answer in settlement.run
            ]  # fmt: skip
            closed = settlement.closed
        elif inputs and inputs[-1].get("role") == "user":  # a new message: nothing waits now
            done, closed = [], close_pending(history, now)
        else:
            done, closed = [], []
        for approval, message in closed:
            reason = (message.get("metadata") or {}).get("approval", {}).get("reason")
            yield ToolDenied(approval.tool_call_id, approval.tool, reason)
        self.messages = _in_call_order(history, [*done, *closed])
        still = pending([*history, *self.messages, *inputs])
        self.waiting = [approval for approval in still if not approval.expired(now)]


def hold_back(
    assistant: Message, calls: Sequence[ToolCall], toolbox: Toolbox, now: datetime
) -> tuple[list[ToolCall], list[Approval]]:
    """Split a step's calls into those that run now and those that wait for a person; mark
    ``assistant`` (the step's stored message) with the waiting ones."""
    if not calls:
        return [], []
    specs = {call.name: spec for call in calls if (spec := toolbox.spec(call.name)) is not None}
    entries = request_metadata(calls, specs, now)
    if not entries:
        return list(calls), []
    assistant["metadata"] = {**(assistant.get("metadata") or {}), "approvals": entries}
    waiting = approvals_in(assistant)
    held = {approval.tool_call_id for approval in waiting}
    return [call for call in calls if call.id not in held], waiting


def refused(waiting: Sequence[Approval]) -> list[Message]:
    """Results for calls that would wait in a turn without a session (nothing to keep them
    in: a stateless agent, a run without ``session_id``, an agent called as a tool)."""
    return [not_run_result(approval, NO_SESSION, approved=False) for approval in waiting]


def _in_call_order(
    history: Sequence[Message], answered: Sequence[tuple[Approval, Message]]
) -> list[Message]:
    """The answers' results in the order of the calls they answer (the model's order)."""
    last = next((m for m in reversed(history) if m.get("tool_calls")), {})
    position = {str(call.get("id")): i for i, call in enumerate(last.get("tool_calls") or ())}
    ordered = sorted(answered, key=lambda pair: position.get(pair[0].tool_call_id, 0))
    return [message for _, message in ordered]


__all__ = ["NO_SESSION", "Settling", "hold_back", "refused"]
